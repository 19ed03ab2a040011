"""Server-rendered pages with Jinja2 (templates in entrypoints/gateway/templates)."""
from jinja2 import Environment, PackageLoader, select_autoescape
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

environment = Environment(
    loader=PackageLoader("entrypoints.gateway", "templates"),
    autoescape=select_autoescape(["html"]),
)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render_page(template, status=200, headers=None, **context):
    html = environment.get_template(template).render(**context)
    return Response(html, status=status, mimetype="text/html", headers={**SECURITY_HEADERS, **(headers or {})})


class Templates(DependencyProvider):
    """`self.templates.render("search.html", **context)` gives an HTML response."""

    def get_dependency(self, worker_ctx):
        return self

    render = staticmethod(render_page)
