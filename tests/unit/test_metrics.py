"""Metrics: every entrypoint counted by outcome and timed, served over HTTP on the
process's own port; `booking run` gives each instance a port of its own."""
import logging
import socket

import pytest
import requests
from nameko.testing.utils import get_extension
from prometheus_client.parser import text_string_to_metric_families

from booking.devstack.ports import free_port
from booking.devstack.stack import StackError, describe_metrics, programs
from booking.kit.config import load_config
from booking.kit.metrics import Metrics
from tests.unit.observed import call, start


def calls(registry, entrypoint, outcome):
    return registry.get_sample_value("booking_calls_total", {
        "service": "concierge", "kind": "called", "entrypoint": entrypoint, "outcome": outcome}) or 0


def run(container, method, *args, times=1):
    for _ in range(times):
        call(container, method, *args)[1].wait()


def test_every_call_is_counted_by_entrypoint_and_outcome_and_timed():
    container = start()
    try:
        registry = get_extension(container, Metrics).registry
        run(container, "greet", 0, times=3)
        run(container, "refuse", times=2)
        run(container, "fail")
        assert [calls(registry, "greet", "ok"), calls(registry, "refuse", "refused"),
                calls(registry, "fail", "error"), calls(registry, "greet", "error")] == [3, 2, 1, 0]
        timed = {"service": "concierge", "kind": "called", "entrypoint": "greet"}
        assert registry.get_sample_value("booking_call_duration_seconds_count", timed) == 3
        assert registry.get_sample_value("booking_workers_busy", {"service": "concierge"}) == 0
    finally:
        container.stop()


def test_a_response_with_an_error_status_counts_as_refused_or_error_by_its_status():
    container = start()
    try:
        registry = get_extension(container, Metrics).registry
        for status in (200, 201, 404, 409, 503):
            run(container, "answer", status)
        assert [calls(registry, "answer", outcome) for outcome in ("ok", "refused", "error")] == [2, 2, 1]
    finally:
        container.stop()


def served(port):
    answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def test_the_metrics_are_served_on_the_metrics_port_and_count_what_ran_since():
    port = free_port()
    container = start({"METRICS_PORT": port})
    try:
        key = ("booking_calls_total", (("entrypoint", "greet"), ("kind", "called"), ("outcome", "ok"),
                                       ("service", "concierge")))
        before = served(port).get(key, 0)
        run(container, "greet", 0, times=2)
        assert served(port)[key] == before + 2
    finally:
        container.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


@pytest.mark.parametrize("setting", [0, "0", "", None])
def test_metrics_port_zero_or_empty_serves_nothing(setting):
    container = start({"METRICS_PORT": setting})
    try:
        assert get_extension(container, Metrics).socket is None
        run(container, "greet", 0)  # still counted, for nobody
    finally:
        container.stop()


def test_a_taken_port_costs_the_metrics_with_a_warning_not_the_service(caplog):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, "booking.kit.metrics"):
            container = start({"METRICS_PORT": port})
        try:
            run(container, "greet", 0)
            assert f"no metrics: port {port} is not free" in caplog.text
        finally:
            container.stop()


def test_each_instance_booking_run_starts_gets_its_own_predictable_metrics_port():
    config = {**load_config("config.yaml"), "METRICS_PORT": 19400}
    ports = {program.name: program.env.get("METRICS_PORT") for program in
             programs(config, "config.yaml", scale={"search": 3, "gateway": 2})}
    assert ports == {"mailsink": None, "bank": None, "auth": "19400", "users": "19410", "search-1": "19420",
                     "search-2": "19421", "search-3": "19422", "reservations": "19430", "payments": "19440",
                     "reports": "19450", "gateway-1": "19460", "gateway-2": "19461"}
    with pytest.raises(StackError, match="at most 10 instances"):
        programs(config, "config.yaml", scale={"search": 11})


def test_booking_run_says_where_the_metrics_are_or_that_they_are_off():
    config = {**load_config("config.yaml"), "METRICS_PORT": 19400}
    said = describe_metrics(programs(config, "config.yaml"))
    assert said.startswith("Metrics for Prometheus at http://localhost:PORT/metrics: auth 19400, users 19410")
    off = programs({**config, "METRICS_PORT": "0"}, "config.yaml")
    assert all("METRICS_PORT" not in program.env for program in off)
    assert describe_metrics(off) == "Metrics: off (METRICS_PORT=0)"
