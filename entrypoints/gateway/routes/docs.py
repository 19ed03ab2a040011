from functools import lru_cache

from entrypoints.gateway import openapi
from entrypoints.gateway.http import api, page


@lru_cache(maxsize=4)
def document(server_url):
    return openapi.build(server_url)


class DocsRoutes:
    @api("GET", "/api/v1/openapi.json")
    def openapi_document(self, request):
        return document(self.config.get("PUBLIC_URL", "http://localhost:8000"))

    @page("GET", "/docs")
    def docs_page(self, request):
        spec = document(self.config.get("PUBLIC_URL", "http://localhost:8000"))
        operations = [
            {"method": method.upper(), "path": path, **operation}
            for path, methods in spec["paths"].items() for method, operation in methods.items()
        ]
        return self.templates.render("docs.html", session=self.session, spec=spec, operations=operations)
