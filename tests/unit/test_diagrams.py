"""The diagrams of docs/diagrams/ say what the code says: each is generated again
from the service classes, the configuration and the imports, and compared with the
committed one; the package rule holds; the sequence follows a run's logs."""
import pytest

from booking.diagrams import packages, render, sequence
from booking.diagrams.services import processes, service_class, services

REGENERATE = "stale: run `.venv/bin/booking diagrams` and commit docs/diagrams/ with the change"


@pytest.fixture(scope="module")
def generated():
    return render.static_diagrams()


@pytest.mark.parametrize("name", ["component-rpc", "component-events", "deployment-local",
                                  "deployment-cluster", "package"])
def test_each_committed_diagram_is_what_the_code_says_today(generated, name):
    committed = render.DIAGRAMS_DIR / f"{name}.puml"
    assert committed.exists(), REGENERATE
    assert committed.read_text() == generated[name], f"docs/diagrams/{name}.puml is {REGENERATE}"


@pytest.mark.parametrize("name", ["component-rpc", "component-events", "deployment-local",
                                  "deployment-cluster", "package", render.SEQUENCE])
def test_each_committed_svg_was_rendered_from_the_committed_text(name):
    svg = (render.DIAGRAMS_DIR / f"{name}.svg").read_text()
    source = (render.DIAGRAMS_DIR / f"{name}.puml").read_text()
    assert render.source_in_svg(svg) == render.normalise(source), f"docs/diagrams/{name}.svg is {REGENERATE}"


def test_the_services_are_found_from_the_process_list_not_a_list_kept_by_hand():
    expected = {service_class(spec["command"]).name for spec in processes().values()
                if service_class(spec["command"]) is not None}
    found = {service.name: service for service in services()}
    assert set(found) == expected == {"auth", "users", "search", "reservations", "payments", "reports", "gateway"}
    reservations = found["reservations"]
    assert {"hold", "cancel", "get", "list_mine", "availability", "confirmation_pdf"} <= set(reservations.rpc)
    assert ("payments", "payment_succeeded", "confirm_paid") in reservations.handles
    assert set(reservations.emits) == {"reservation_held", "reservation_confirmed", "reservation_changed",
                                       "reservation_cancelled", "reservation_expired", "reservation_checked_in",
                                       "reservation_checked_out", "reservation_no_show"}
    assert ("expire_holds", 30) in reservations.timers
    assert dict(reservations.calls) == {"search": False, "payments": True, "reports": True, "users": True}
    assert found["payments"].bank and found["payments"].mail and not found["reports"].database
    assert ("GET", "/api/v1/hotels") in found["gateway"].routes


def test_no_service_imports_another_services_internals():
    assert packages.violations() == []


def test_the_package_rule_catches_an_internal_import_and_lets_published_ones_through():
    services_by_package = packages.service_packages()

    def reason(importer, module, imported):
        return packages.forbidden(packages.Import(importer, module, imported), services_by_package)

    # what reservations did until the limits of a stay moved to the kit
    assert "an internal of the search service" in reason(
        "booking.reservations", "booking.reservations.schemas", "booking.search.schemas")
    assert reason("booking.auth", "booking.auth.service", "booking.users.exceptions") is None
    assert reason("entrypoints.gateway", "entrypoints.gateway.openapi", "booking.search.schemas") is None
    assert "internal" in reason("entrypoints.gateway", "entrypoints.gateway.service", "booking.payments.ledger")
    assert "the kit imports" in reason("booking.kit", "booking.kit.rpc", "booking.users.exceptions")
    assert reason("booking", "booking.cli", "booking.auth.keys") is None  # tools may


def call_record(time, process, call_id, parent, message, duration_ms):
    return {"time": time, "process": process, "logger": "booking.calls", "call_id": call_id,
            "parent_call_id": parent, "message": message, "duration_ms": duration_ms,
            "request_id": "gateway.pay.1"}


def test_the_sequence_puts_each_answer_after_what_it_waited_for_whatever_each_process_stamped():
    records = [
        # the gateway stamped its end a little before payments stamped its own
        call_record("2026-11-29T10:00:00.100000Z", "gateway", "gateway.pay.1", None,
                    "POST /api/v1/reservations/BK1/payment 200 in 100.0 ms", 100.0),
        call_record("2026-11-29T10:00:00.101000Z", "payments", "payments.pay.2", "gateway.pay.1",
                    "rpc payments.pay: ok in 80.0 ms", 80.0),
        {"time": "2026-11-29T10:00:00.090000Z", "process": "payments", "logger": "booking.kit.bank",
         "peer": "bank", "message": "bank POST /v1/charges: 201 in 5.0 ms", "duration_ms": 5.0,
         "call_id": "payments.pay.2", "request_id": "gateway.pay.1"},
        # an event's handler runs after the call that announced it ended: nobody waits for it
        call_record("2026-11-29T10:00:00.300000Z", "reservations", "reservations.confirm_paid.3", "payments.pay.2",
                    "event payments.payment_succeeded -> confirm_paid: ok in 50.0 ms", 50.0),
        call_record("2026-11-29T10:00:00.290000Z", "users", "users.get.4", "reservations.confirm_paid.3",
                    "rpc users.get: ok in 4.0 ms", 4.0),
        {"time": "2026-11-29T10:00:00.310000Z", "process": "users", "logger": "booking.kit.mail", "peer": "smtp",
         "message": "Mail <x> to a@example.com sent", "subject": "Booking confirmed", "call_id": "users.x.5",
         "request_id": "gateway.pay.1"},
    ]
    assert [line for *_, line in sequence.messages(records)] == [
        "guest -> gateway : POST /api/v1/reservations/BK1/payment",
        "gateway -> payments : pay",
        "payments -> bank : POST /v1/charges",
        "bank --> payments : 201, 5 ms",
        "payments --> gateway : ok, 80 ms",
        "gateway --> guest : 200, 100 ms",
        "payments ->> reservations : <i>payment_succeeded</i> → confirm_paid",
        "reservations -> users : get",
        "users --> reservations : ok, 4 ms",
        'users ->> smtp : e-mail "Booking confirmed"',
    ]
    processes, peers = sequence.participants(records)
    assert processes[0] == "gateway" and set(processes) == {"gateway", "payments", "reservations", "users"}
    assert peers == ["bank", "smtp"]
