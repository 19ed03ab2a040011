"""The reports service in a real container on the real broker."""
import base64

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from booking.kit.errors import Unauthorized
from booking.reports import rendering
from booking.reports.service import ReportsService
from tests.unit.test_reports import CONFIRMATION, INVOICE


@pytest.fixture
def reports(container_factory, config):
    container = container_factory(ReportsService, config)
    container.start()
    return container


def test_render_over_rpc_needs_a_token(reports, config):
    with ClusterRpcProxy(config) as rpc:
        with pytest.raises(Unauthorized):
            rpc.reports.render("booking_confirmation", CONFIRMATION)
        assert {template["name"] for template in rpc.reports.templates()} == {
            "booking_confirmation", "payment_receipt", "invoice", "credit_note", "monthly_report"}


def test_rendering_does_not_stall_other_requests(reports, config, monkeypatch):
    """While three long invoices render, a quick call is answered first: rendering
    runs in real threads, not on the service's eventlet hub."""
    from booking.kit.identity import AuthClient
    from booking.kit.tokens import Caller

    monkeypatch.setattr(AuthClient, "verify", lambda self, token: Caller(
        "client:test", "test", frozenset({"reports:render"}), "jti", 0))
    long_invoice = {**INVOICE, "lines": [{"description": f"Night {n}", "quantity": 1, "unit_price": "99.00"}
                                         for n in range(450)]}
    finished = []

    def render(n):
        with ClusterRpcProxy(config, context_data={"authorization": "Bearer anything"}) as rpc:
            document = rpc.reports.render("invoice", long_invoice)
        finished.append(f"render-{n}")
        return document

    def quick():
        with ClusterRpcProxy(config) as rpc:
            while not rendering.ONE_AT_A_TIME.locked():  # once a render is under way
                eventlet.sleep(0.01)
            rpc.reports.templates()
        finished.append("quick")

    renders = [eventlet.spawn(render, n) for n in range(3)]
    eventlet.spawn(quick).wait()
    documents = [thread.wait() for thread in renders]
    assert finished[0] == "quick", finished
    assert all(document["pages"] > 10 for document in documents)
    assert base64.b64decode(documents[0]["content_base64"]).startswith(b"%PDF")
