"""The OpenAPI document: valid, served, and covering every JSON route of the gateway."""
import pytest
import requests
from nameko.testing.utils import get_extension
from openapi_spec_validator import validate

from entrypoints.gateway import openapi
from entrypoints.gateway.http import ApiHandler
from entrypoints.gateway.service import GatewayService

# the catch-all that answers 404 for unknown API paths is not a route to document
UNDOCUMENTED = {"/api/{anything}"}


@pytest.fixture
def gateway(container_factory, config):
    container = container_factory(GatewayService, config)
    container.start()
    return container


def test_the_document_is_valid_openapi_3():
    document = openapi.build("http://localhost:8000")
    validate(document)
    assert document["openapi"].startswith("3.")


def test_every_json_route_is_documented(gateway):
    documented = {(method.upper(), path) for path, methods in openapi.build("x")["paths"].items()
                  for method in methods}
    routes = set()
    for handler in gateway.entrypoints:
        if isinstance(handler, ApiHandler):  # the OAuth handler is one too
            path = openapi.openapi_path(handler.url)
            if path not in UNDOCUMENTED:
                routes |= {(method, path) for method in handler.method.split(",")}
    assert routes == documented
    assert get_extension(gateway, ApiHandler) is not None


def test_the_document_and_its_page_are_served(gateway, config):
    base = f"http://{config['WEB_SERVER_ADDRESS']}"
    answer = requests.get(f"{base}/api/v1/openapi.json", timeout=10)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    validate(document)
    page = requests.get(f"{base}/docs", timeout=10)
    assert page.status_code == 200
    for path in document["paths"]:
        assert path in page.text
