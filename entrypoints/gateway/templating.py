"""Server-rendered pages with Jinja2 (templates in entrypoints/gateway/templates)."""
from datetime import date, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from entrypoints.gateway.wording import field_name, in_words

environment = Environment(
    loader=PackageLoader("entrypoints.gateway", "templates"),
    autoescape=select_autoescape(["html"]),
)
environment.filters.update(in_words=in_words, field_name=field_name)


def first_nights():
    """{"check_in": today, "check_out": tomorrow}: the earliest days a date input may
    offer (its `min`), so that no page offers a past day."""
    today = date.today()
    return {"check_in": today.isoformat(), "check_out": (today + timedelta(days=1)).isoformat()}


# for every template with a stay's dates: `first_nights().check_in`
environment.globals["first_nights"] = first_nights

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
