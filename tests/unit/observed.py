"""A small service whose workers a test starts itself (no broker), with the
request log and the metrics every Booking service declares."""
import logging
from contextlib import contextmanager

import eventlet
from eventlet.event import Event
from nameko.containers import ServiceContainer
from nameko.extensions import Entrypoint
from werkzeug.wrappers import Response

from booking.kit.logs import RequestLog, WorkerFilter
from booking.kit.metrics import Metrics
from booking.reservations.exceptions import NoRoomLeft

log = logging.getLogger("tests.concierge")


class Called(Entrypoint):
    """An entrypoint fired by `call` below."""


called = Called.decorator


class ConciergeService:
    name = "concierge"

    request_log = RequestLog()
    metrics = Metrics()

    @called
    def greet(self, pause, secret=None):
        log.info("greeting")
        eventlet.sleep(pause)  # another worker runs meanwhile
        log.info("greeted")
        return "hello"

    @called(expected_exceptions=NoRoomLeft)
    def refuse(self):
        raise NoRoomLeft()

    @called
    def fail(self):
        raise KeyError("broken")

    @called
    def answer(self, status):
        """As an HTTP route that answers an error itself (the gateway's /ready)."""
        return Response("", status=status)


def start(config=None):
    container = ServiceContainer(ConciergeService, config=config or {})
    container.start()
    return container


def call(container, method, *args, parent_stack=None, **kwargs):
    """Start a worker of `method` (its parent's call id stack as nameko carries it
    between services); gives (worker context, event sent when it has finished)."""
    entrypoint = next(e for e in container.entrypoints if e.method_name == method)
    done = Event()

    def finished(worker_ctx, result, exc_info):
        done.send(worker_ctx)
        return result, exc_info

    context_data = {"call_id_stack": parent_stack} if parent_stack else {}
    worker_ctx = container.spawn_worker(entrypoint, args, kwargs, context_data=context_data,
                                        handle_result=finished)
    return worker_ctx, done


class Records(logging.Handler):
    """Every record, as the configured handler would see it (through `WorkerFilter`)."""

    def __init__(self, handler_filter):
        super().__init__(logging.DEBUG)
        self.addFilter(handler_filter)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def of(self, logger):
        return [record for record in self.records if record.name == logger]


@contextmanager
def kept_records(level):
    """Every record logged at `level` or above meanwhile, as the config's handler sees it."""
    keeper = Records(WorkerFilter())
    root = logging.getLogger()
    previous = root.level
    root.setLevel(level)
    root.addHandler(keeper)
    try:
        yield keeper
    finally:
        root.removeHandler(keeper)
        root.setLevel(previous)
