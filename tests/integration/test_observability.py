"""Observability for real: every gateway response names its request (X-Request-Id),
and a booking made through `booking run` leaves that id in the JSON logs of every
service it passed through, where `booking trace` finds it, while each process's
/metrics counts the calls it made."""
import json
import logging
import re
import subprocess
import time
from datetime import date, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from booking.devstack.mailsink import wait_for_message
from booking.diagrams import render
from booking.kit.config import PROJECT_ROOT
from entrypoints.gateway.service import GatewayService
from tests import eventually
from tests.e2e.stack import BOOKING, Stack, stack_environment
from tests.unit.observed import kept_records

# the sequence diagram of the run, to look at (booking diagrams --sequence draws docs/diagrams/'s)
ARTIFACTS = PROJECT_ROOT / "var" / "test" / "artifacts" / "diagrams"
CALL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def records():
    with kept_records(logging.INFO) as keeper:
        yield keeper


@pytest.fixture
def gateway(container_factory, config):
    container = container_factory(GatewayService, config)
    container.start()
    return f"http://{config['WEB_SERVER_ADDRESS']}"


def test_every_gateway_response_names_its_request_and_its_log_records_carry_it(gateway, records):
    answers = {
        "health": requests.get(f"{gateway}/health", timeout=10),
        "no_such_route": requests.get(f"{gateway}/api/v1/nowhere", timeout=10),
        "http": requests.delete(f"{gateway}/api/v1/cities", timeout=10),  # 405: no route takes it
        # search is not running: 503 after RPC_TIMEOUT, and an error in the log
        "cities": requests.get(f"{gateway}/api/v1/cities", timeout=10),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "health": 200, "no_such_route": 404, "http": 405, "cities": 503}
    for name, answer in answers.items():
        assert re.fullmatch(rf"gateway\.{name}\.{CALL_ID}", answer.headers["X-Request-Id"]), answer.headers

    # one line for each response, with its status, under its request id
    lines = {record.request_id: record.getMessage() for record in records.of("booking.calls")}
    for answer in answers.values():
        assert lines[answer.headers["X-Request-Id"]].startswith(
            f"{answer.request.method} {answer.request.path_url} {answer.status_code} in ")
    # and the error behind the 503, logged by nameko for the worker, carries it too
    [unavailable] = [record for record in records.of("nameko.containers") if record.levelno == logging.WARNING
                     and record.request_id == answers["cities"].headers["X-Request-Id"]]
    assert "The search service is not running" in unavailable.getMessage()
    assert unavailable.call_id == unavailable.request_id


def calls(port, **labels):
    """booking_calls_total of one process for these labels, summed."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "booking_calls_total" and labels.items() <= sample.labels.items())


def logged(stack, request_id):
    """{process: records} of one request in the stack's log files."""
    found = {}
    for path in stack.logs.glob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("request_id") == request_id:
                    found.setdefault(path.stem, []).append(entry)
    return found


@pytest.mark.slow
def test_a_booking_leaves_its_request_id_in_every_services_log_and_in_the_metrics(rabbit_config, tmp_path, figures):
    env = stack_environment(rabbit_config["AMQP_URI"], tmp_path)
    base = int(env["METRICS_PORT"])
    ports = {"users": base + 10, "reservations": base + 30, "payments": base + 40, "gateway": base + 60}
    url = env["PUBLIC_URL"]
    stack = Stack(env, logs=tmp_path / "log")
    try:
        stack.wait_for(r"Booking is ready")
        stack.wait_for(rf"Metrics for Prometheus at http://localhost:PORT/metrics: auth {base}, .*gateway {base + 60}")

        account = {"email": "ada@example.com", "password": "analytical engine 1843", "full_name": "Ada"}
        assert requests.post(f"{url}/api/v1/users", json=account, timeout=10).status_code == 201
        token = requests.post(f"{url}/api/v1/auth/login", json={k: account[k] for k in ("email", "password")},
                              timeout=10).json()["access_token"]
        guest = requests.Session()
        guest.headers["Authorization"] = f"Bearer {token}"
        def counted():  # the calls a booking makes, as each process's /metrics counts them
            return {
                "gateway hold": calls(ports["gateway"], entrypoint="hold", outcome="ok"),
                "gateway pay": calls(ports["gateway"], entrypoint="pay", outcome="ok"),
                "reservations hold": calls(ports["reservations"], kind="rpc", entrypoint="hold", outcome="ok"),
                "payments pay": calls(ports["payments"], kind="rpc", entrypoint="pay", outcome="ok"),
                "users send_confirmation": calls(ports["users"], entrypoint="send_confirmation", outcome="ok"),
            }
        before = counted()

        check_in = date.today() + timedelta(days=200)
        held = guest.post(f"{url}/api/v1/reservations", headers={"Idempotency-Key": "obs-hold"}, timeout=10, json={
            "hotel_id": 7, "room_type": "double", "guests": 2, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=2)).isoformat()})
        assert held.status_code == 201, held.text
        paid = guest.post(f"{url}/api/v1/reservations/{held.json()['id']}/payment", timeout=10,
                          headers={"Idempotency-Key": "obs-pay"},
                          json={"card": {"number": "4242424242424242", "exp_month": 12,
                                         "exp_year": date.today().year + 2, "cvc": "123", "holder": "Ada"}})
        assert paid.status_code == 200, paid.text
        wait_for_message(env["MAIL_DIR"], lambda mail: mail["To"] == "ada@example.com"
                         and mail["Subject"].startswith("Booking confirmed"))

        # the payment's request went gateway -> payments -> (event) reservations -> (event) users
        pay_id = paid.headers["X-Request-Id"]
        assert re.fullmatch(rf"gateway\.pay\.{CALL_ID}", pay_id)
        def settled():
            """Every process of the path has logged, and nothing more comes: a process logs
            its call's line once it has answered (reports' came after the e-mail once)."""
            first = logged(stack, pay_id)
            time.sleep(0.5)
            return {"gateway", "payments", "reports", "reservations", "users"} <= first.keys() \
                and first == logged(stack, pay_id)
        eventually(settled, timeout=30)
        path = logged(stack, pay_id)
        hold_path = logged(stack, held.headers["X-Request-Id"])
        assert {"gateway", "reservations"} <= hold_path.keys() and "users" not in hold_path
        assert all(entry["request_id"] == pay_id and entry["service"] == process
                   for process, entries in path.items() for entry in entries)
        figures["processes that logged the payment's request"] = sorted(path)
        figures["its records"] = sum(len(entries) for entries in path.values())

        traced = subprocess.run([BOOKING, "trace", pay_id, "--logs", str(stack.logs)], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=60)
        assert traced.returncode == 0, traced.stderr
        header, *lines = traced.stdout.splitlines()
        assert header.startswith(f"{pay_id}: {figures['its records']} records from ")
        assert {line.split()[1] for line in lines if line.startswith("20")} == set(path)
        times = [line.split()[0] for line in lines if line.startswith("20")]
        assert times == sorted(times)

        # the sequence diagram of this booking, drawn from these logs, names every process it crossed
        diagram = render.sequence_from_logs([held.headers["X-Request-Id"], pay_id], stack.logs)
        crossed = set(path) | set(hold_path)
        assert {"gateway", "reservations", "search", "payments", "reports", "users"} <= crossed
        assert [process for process in crossed if f'participant "{process}" as ' not in diagram] == []
        assert 'participant "Bank (HTTP)" as bank' in diagram and "payments -> bank : POST /v1/charges" in diagram
        assert 'participant "Mail server (SMTP)" as smtp' in diagram and "users ->> smtp" in diagram
        render.write({render.SEQUENCE: diagram}, ARTIFACTS, png_dir=ARTIFACTS)
        figures["sequence diagram"] = f"{len(crossed)} processes, {diagram.count(' : ')} messages"

        after = counted()
        assert {name: after[name] - before[name] for name in before} == dict.fromkeys(before, 1)
        figures["metrics, before -> after"] = {name: f"{before[name]:g} -> {after[name]:g}" for name in before}
    finally:
        assert stack.stop(), stack.output[-20000:]
