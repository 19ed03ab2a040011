"""Logs: every record a worker writes names its request (the first call id of
nameko's stack) and its own call; JSON lines; `booking trace` reads them back."""
import json
import logging
from datetime import UTC, datetime

import pytest

from booking import cli
from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.logs import JsonFormatter, PlainFormatter, RefusalsInOneLine, WorkerFilter, read_records, readable
from tests.unit.observed import call, kept_records, start

GATEWAY_CALL = "gateway.pay.6f1c0a9e-1111-4222-8333-444455556666"


@pytest.fixture
def records():
    with kept_records(logging.DEBUG) as keeper:
        yield keeper


@pytest.fixture
def concierge():
    container = start()
    yield container
    container.stop()


def test_two_concurrent_workers_each_log_their_own_request_and_call_ids(concierge, records):
    slow, slow_done = call(concierge, "greet", 0.05, parent_stack=["gateway.book.aaaa", "reservations.hold.bbbb"])
    quick, quick_done = call(concierge, "greet", 0.01, parent_stack=["gateway.pay.cccc"])
    slow_done.wait(), quick_done.wait()

    greetings = records.of("tests.concierge")
    # they did interleave: the quick one finished while the slow one slept
    assert [record.call_id for record in greetings] == [slow.call_id, quick.call_id, quick.call_id, slow.call_id]
    for record in greetings:
        worker = slow if record.call_id == slow.call_id else quick
        expected_request = "gateway.book.aaaa" if worker is slow else "gateway.pay.cccc"
        assert (record.request_id, record.service) == (expected_request, "concierge")


def test_a_worker_that_nothing_called_is_a_request_of_its_own(concierge, records):
    sweep, done = call(concierge, "greet", 0)  # as a timer's worker starts
    done.wait()
    assert {(record.request_id, record.call_id) for record in records.of("tests.concierge")} == {
        (sweep.call_id, sweep.call_id)}


def test_a_record_outside_any_worker_names_the_service_and_no_request(concierge, records):
    logging.getLogger("tests.concierge").warning("the broker went away")
    [record] = records.of("tests.concierge")
    assert (record.service, record.request_id, record.call_id) == ("concierge", None, None)


def test_every_call_leaves_one_line_with_its_outcome_and_time_but_never_its_arguments(concierge, records):
    for method, args in (("greet", (0, "Quokka-canary-5117")), ("refuse", ()), ("fail", ())):
        worker, done = call(concierge, method, *args)
        done.wait()
    lines = [record.getMessage() for record in records.of("booking.calls")]
    assert len(lines) == 3
    assert lines[0].startswith("called greet: ok in ")
    assert lines[1].startswith("called refuse: refused (NoRoomLeft) in ")
    assert lines[2].startswith("called fail: error (KeyError) in ")
    assert not any("Quokka" in line for line in lines)
    assert all(record.levelno == logging.INFO for record in records.of("booking.calls"))



def test_a_calls_line_names_the_call_that_caused_it(concierge, records):
    caused, caused_done = call(concierge, "greet", 0, parent_stack=["gateway.pay.aaaa", "payments.pay.bbbb"])
    entered, entered_done = call(concierge, "greet", 0)
    caused_done.wait(), entered_done.wait()
    parents = {record.call_id: record.parent_call_id for record in records.of("booking.calls")}
    assert parents == {caused.call_id: "payments.pay.bbbb", entered.call_id: None}

def record_of(message, exc_info=None, **ids):
    record = logging.makeLogRecord({"name": "booking.payments", "levelno": logging.ERROR, "levelname": "ERROR",
                                    "msg": message, "exc_info": exc_info, "created": 1795000000.25, **ids})
    WorkerFilter().filter(record)
    return record


def test_a_json_line_holds_the_time_in_utc_the_ids_and_the_exception():
    try:
        raise ValueError("bank said no")
    except ValueError as error:
        record = record_of("charge failed\nsecond line", exc_info=(ValueError, error, error.__traceback__),
                           service="payments", request_id=GATEWAY_CALL, call_id="payments.pay.1234")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["time"] == "2026-11-18T11:06:40.250000Z"
    assert datetime.fromisoformat(entry["time"]) == datetime.fromtimestamp(1795000000.25, UTC)
    assert {key: entry[key] for key in ("level", "logger", "message", "service", "request_id", "call_id")} == {
        "level": "ERROR", "logger": "booking.payments", "message": "charge failed\nsecond line",
        "service": "payments", "request_id": GATEWAY_CALL, "call_id": "payments.pay.1234"}
    assert entry["exception"].startswith("Traceback") and "ValueError: bank said no" in entry["exception"]


def test_the_plain_format_and_the_terminal_show_the_short_request_id():
    record = record_of("charge failed", request_id=GATEWAY_CALL, call_id="payments.pay.1234")
    assert PlainFormatter().format(record).endswith("ERROR booking.payments: charge failed  [6f1c0a9e]")
    line = JsonFormatter().format(record)
    assert readable(line) == "11:06:40.250 ERROR booking.payments: charge failed  [6f1c0a9e]"
    assert readable("Traceback (most recent call last):") == "Traceback (most recent call last):"


def test_a_refusal_is_logged_in_one_line_and_an_unexpected_error_with_its_traceback(concierge, records):
    for method in ("refuse", "fail"):
        _, done = call(concierge, method)
        done.wait()
    refusal, error = (next(record for record in records.of("nameko.containers") if record.levelname == level)
                      for level in ("WARNING", "ERROR"))
    for record in (refusal, error):
        RefusalsInOneLine().filter(record)
    refused = json.loads(JsonFormatter().format(refusal))
    assert refused["message"].startswith("(expected) error handling worker") and "No room" in refused["message"]
    assert "exception" not in refused
    assert "KeyError: 'broken'" in json.loads(JsonFormatter().format(error))["exception"]


@pytest.mark.parametrize("profile", ["config.yaml", "config/test.yaml", "config/postgres.yaml"])
def test_every_profile_keeps_refusals_to_one_line(profile):
    logging_config = load_config(PROJECT_ROOT / profile)["LOGGING"]
    assert logging_config["loggers"]["nameko.containers"]["filters"] == ["refusals"]
    assert logging_config["filters"]["refusals"]["()"] == "booking.kit.logs.RefusalsInOneLine"


def log_line(time, request_id, message, logger="booking.calls"):
    return json.dumps({"time": time, "level": "INFO", "logger": logger, "message": message,
                       "service": "x", "request_id": request_id, "call_id": request_id}) + "\n"


@pytest.fixture
def log_dir(tmp_path):
    other = "gateway.hold.00000000-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    (tmp_path / "gateway.log").write_text(
        log_line("2026-11-18T08:26:40.100000Z", GATEWAY_CALL, "POST /pay: ok")
        + "a line that is not JSON, " + GATEWAY_CALL + "\n"
        + log_line("2026-11-18T08:26:40.050000Z", other, "POST /hold: ok"))
    (tmp_path / "payments-2.log").write_text(log_line("2026-11-18T08:26:40.080000Z", GATEWAY_CALL, "rpc pay: ok"))
    (tmp_path / "users.log").write_text(log_line("2026-11-18T08:26:41.000000Z", GATEWAY_CALL, "e-mail sent"))
    return tmp_path


def test_trace_finds_a_requests_records_in_every_log_in_time_order(log_dir):
    found = read_records(log_dir, GATEWAY_CALL)
    assert [(entry["process"], entry["message"]) for entry in found] == [
        ("payments-2", "rpc pay: ok"), ("gateway", "POST /pay: ok"), ("users", "e-mail sent")]
    assert read_records(log_dir, "6f1c0a9e") == found  # the short id the terminal shows


def test_booking_trace_prints_them_and_says_when_there_is_none(log_dir, capsys):
    assert cli.main(["trace", GATEWAY_CALL, "--logs", str(log_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{GATEWAY_CALL}: 3 records from gateway, payments-2, users"
    assert [line.split()[1] for line in out[1:]] == ["payments-2", "gateway", "users"]
    assert cli.main(["trace", "gateway.pay.no-such-request", "--logs", str(log_dir)]) == 1
    assert "no record of gateway.pay.no-such-request" in capsys.readouterr().err
