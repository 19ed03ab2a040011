"""Logs as JSON lines, every record of a worker marked with the request it serves.

A request's id is the first call id of nameko's call id stack: the call where it
entered the platform (the gateway's HTTP entrypoint, a timer, a `nameko shell`).
nameko carries the stack on every RPC call and event, so every worker a booking
causes, in whichever service, logs the same `request_id` beside its own `call_id`.

    class ReservationsService(Pingable):
        request_log = RequestLog()    # ids on every record its workers log, a line per call

The LOGGING section of the config puts `WorkerFilter` on the handler,
`RefusalsInOneLine` on nameko's container logger, and picks `JsonFormatter`
(LOG_FORMAT=json, the default) or `PlainFormatter` (plain).
`booking trace REQUEST_ID` reads the JSON lines back (`read_records`).
"""
import json
import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from eventlet.corolocal import local
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler

calls_log = logging.getLogger("booking.calls")
# no record names its thread (a greenlet here): finding it cost every worker's first record 19 µs
logging.logThreads = False

# The worker this greenlet is running, if any. Greenlet-local (not a thread-local,
# which is only greenlet-local once eventlet has patched threading): concurrent
# workers of one process never lend each other their ids.
_current = local()
# for records outside any worker (start-up, a connection lost): the process's service
_process = {"service": None}

# what every LogRecord has; anything else on a record was given as `extra`
_STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime", "service", "request_id", "call_id"}


def request_id_of(worker_ctx):
    """The call id where this worker's request entered: the first of its stack."""
    return worker_ctx.call_id_stack[0]


def current_worker():
    return getattr(_current, "worker", None)


@contextmanager
def working_for(worker_ctx):
    """Log in this greenlet as `worker_ctx` does (the gateway builds a response
    outside its worker); `None` changes nothing."""
    previous = current_worker()
    if worker_ctx is not None:
        _current.worker = worker_ctx
    try:
        yield
    finally:
        _current.worker = previous


def kind_of(entrypoint):
    for cls, kind in ((Rpc, "rpc"), (EventHandler, "event"), (HttpRequestHandler, "http"), (Timer, "timer")):
        if isinstance(entrypoint, cls):
            return kind
    return type(entrypoint).__name__.lower()


def outcome_of(worker_ctx, result, exc_info):
    """ok, refused (a typed error the entrypoint expects: the caller's mistake or a
    business answer such as no room left) or error (anything else). An HTTP route
    that answers an error status itself (/ready's 503) counts by its status."""
    if not exc_info:
        status = getattr(result, "status_code", None)
        if not isinstance(status, int) or status < 400:
            return "ok"
        return "refused" if status < 500 else "error"
    if isinstance(exc_info[1], worker_ctx.entrypoint.expected_exceptions):
        return "refused"
    return "error"


def describe(entrypoint):
    kind = kind_of(entrypoint)
    if kind == "http":
        return f"{entrypoint.method} {entrypoint.url} ({entrypoint.method_name})"
    if kind == "event":
        return f"event {entrypoint.source_service}.{entrypoint.event_type} -> {entrypoint.method_name}"
    if kind == "rpc":
        return f"rpc {entrypoint.container.service_name}.{entrypoint.method_name}"
    return f"{kind} {entrypoint.method_name}"


class RequestLog(DependencyProvider):
    """Makes the running worker known to `WorkerFilter`, and logs one line per call
    when it ends (what ran, its outcome, how long: never its arguments). At DEBUG
    for a timer that went well, so that a sweep every 15 s does not fill the
    terminal, and for HTTP, whose line the gateway writes with the status."""

    def setup(self):
        _process["service"] = self.container.service_name

    def worker_setup(self, worker_ctx):
        _current.worker = worker_ctx
        _current.started = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        milliseconds = (time.perf_counter() - getattr(_current, "started", time.perf_counter())) * 1000
        outcome = outcome_of(worker_ctx, result, exc_info)
        if exc_info:
            outcome += f" ({type(exc_info[1]).__name__})"
        kind = kind_of(worker_ctx.entrypoint)
        quiet = kind == "http" or (kind == "timer" and exc_info is None)
        # the call that caused this one (None where the request entered): what
        # `booking diagrams --sequence` draws an arrow from
        stack = worker_ctx.call_id_stack
        calls_log.log(logging.DEBUG if quiet else logging.INFO, "%s: %s in %.1f ms",
                      describe(worker_ctx.entrypoint), outcome, milliseconds,
                      extra={"duration_ms": round(milliseconds, 1),
                             "parent_call_id": stack[-2] if len(stack) > 1 else None})

    def worker_teardown(self, worker_ctx):
        _current.worker = None


class WorkerFilter(logging.Filter):
    """Gives every record `service`, `request_id` and `call_id` (None outside a
    worker). Put on a handler, it sees the records of every logger."""

    def filter(self, record):
        worker_ctx = current_worker()
        if worker_ctx is None:
            record.__dict__.setdefault("service", _process["service"])
            record.__dict__.setdefault("request_id", None)
            record.__dict__.setdefault("call_id", None)
        else:
            record.__dict__.setdefault("service", worker_ctx.service_name)
            record.__dict__.setdefault("request_id", request_id_of(worker_ctx))
            record.__dict__.setdefault("call_id", worker_ctx.call_id)
        return True


class RefusalsInOneLine(logging.Filter):
    """nameko logs a worker's expected error (a typed refusal: a 404, a card
    declined, no room left) as a warning with its traceback. The refusal's type and
    message say what happened; the traceback only says where the service raised
    it, and formatting it was about a fifteenth of the CPU of a schemathesis run.
    Put on the `nameko.containers` logger (the LOGGING section does), it keeps
    those warnings to one line; an unexpected error keeps its traceback."""

    def filter(self, record):
        if record.exc_info and str(record.msg).startswith("(expected)"):
            record.exc_info = None
        return True


def utc_time(record):
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message,
    service, request_id, call_id, then `exception` and any `extra` fields."""

    def format(self, record):
        entry = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": getattr(record, "service", None),
            "request_id": getattr(record, "request_id", None),
            "call_id": getattr(record, "call_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        entry.update((name, value) for name, value in vars(record).items() if name not in _STANDARD)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """For people: time, level, logger, message, and the request's short id."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record, datefmt=None):
        return utc_time(record)

    def format(self, record):
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            first, *rest = text.split("\n", 1)
            text = "\n".join([f"{first}  [{short_id(request_id)}]", *rest])
        return text


def short_id(request_id):
    """The first 8 characters of the request id's uuid: enough for `booking trace`."""
    return request_id.rsplit(".", 1)[-1][:8]


def readable(line):
    """A JSON log line as a person reads it (the terminal of `booking run`); any
    other line as it is."""
    entry = parse(line)
    if entry is None:
        return line
    text = f"{entry['time'][11:23]} {entry['level']} {entry['logger']}: {entry['message']}"
    if entry.get("request_id"):
        text += f"  [{short_id(entry['request_id'])}]"
    if entry.get("exception"):
        text += "\n" + entry["exception"]
    return text


def parse(line):
    """The record of one JSON log line, or None if it is not one."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not {"time", "level", "logger", "message"} <= entry.keys():
        return None
    return entry


def matches(entry, wanted):
    """`wanted` is the whole request id, or the start of its uuid (as the terminal shows it)."""
    request_id = entry.get("request_id")
    return bool(request_id) and (request_id == wanted or request_id.rsplit(".", 1)[-1].startswith(wanted))


def read_records(log_dir, wanted):
    """Every record of the request `wanted` in the `*.log` files of `log_dir`, in
    time order, each with `process` (the file's name: "search-2")."""
    found = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if wanted not in line:  # most lines; cheaper than parsing them
                    continue
                entry = parse(line)
                if entry is not None and matches(entry, wanted):
                    found.append({**entry, "process": path.stem})
    return sorted(found, key=lambda entry: entry["time"])
