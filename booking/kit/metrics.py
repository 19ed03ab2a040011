"""Prometheus metrics of a service: every entrypoint counted and timed.

    class SearchService(Pingable):
        metrics = Metrics()

Each process serves its own metrics over HTTP at `/metrics` on `METRICS_PORT`
(0 or empty: none). `booking run` gives every process a port of its own, so that
instances of one service are scraped apart (README, "Observability").

nameko-prometheus (1.6) was the other choice: it keeps its metrics in the
process-wide registry (two containers of one service in a test process collide)
and needs an `@http` entrypoint to serve them, which only the gateway has.
"""
import logging
import time

import eventlet
import eventlet.wsgi
from nameko.extensions import DependencyProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from booking.kit.logs import kind_of, outcome_of

log = logging.getLogger(__name__)


def metrics_port(config):
    """The port this process serves /metrics on, or None (0 or empty: none)."""
    value = config.get("METRICS_PORT")
    return int(value) if value not in (None, "", 0, "0") else None


class Metrics(DependencyProvider):
    """booking_calls_total{service, kind, entrypoint, outcome} (outcome ok, refused
    or error), booking_call_duration_seconds{service, kind, entrypoint} and
    booking_workers_busy{service}, in a registry of this container's own."""

    def __init__(self):
        self.started = {}  # worker context -> when it started: workers run concurrently
        self.port = None
        self.socket = None
        self.server = None

    def setup(self):
        self.service = self.container.service_name
        self.port = metrics_port(self.container.config)
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "booking_calls", "Entrypoint calls handled, by outcome (ok, refused, error)",
            ["service", "kind", "entrypoint", "outcome"], registry=self.registry)
        self.durations = Histogram(
            "booking_call_duration_seconds", "How long an entrypoint call took, its reply included",
            ["service", "kind", "entrypoint"], registry=self.registry)
        busy = Gauge("booking_workers_busy", "Workers running now (max_workers is the limit)",
                     ["service"], registry=self.registry)
        busy.labels(self.service).set_function(lambda: len(self.started))

    def start(self):
        if self.port is None:
            return
        try:
            self.socket = eventlet.listen(("0.0.0.0", self.port))
        except OSError as error:
            # metrics are worth a warning, never a service that does not start
            log.warning("no metrics: port %s is not free (%s)", self.port, error.strerror)
            return
        self.server = self.container.spawn_managed_thread(self._serve, identifier="metrics server")
        log.info("metrics at http://0.0.0.0:%s/metrics", self.port)

    def _serve(self):
        eventlet.wsgi.server(self.socket, make_wsgi_app(self.registry), log_output=False)

    def stop(self):
        if self.server is not None:
            self.server.kill()
            self.server = None
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    kill = stop

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        labels = {"service": self.service, "kind": kind_of(entrypoint), "entrypoint": entrypoint.method_name}
        self.calls.labels(**labels, outcome=outcome_of(worker_ctx, result, exc_info)).inc()
        if started is not None:
            self.durations.labels(**labels).observe(time.perf_counter() - started)

    def worker_teardown(self, worker_ctx):
        self.started.pop(worker_ctx, None)  # a worker whose result never came
