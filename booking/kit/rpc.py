"""RPC to another service with a deadline.

nameko 2.14's in-service `RpcProxy` waits forever: a service that is down would hang
the caller and block its shutdown. `ServiceRpc` bounds every call by `RPC_TIMEOUT`
seconds (from the config, or given) and turns "nobody answered" into the typed
`ServiceUnavailable`, which the gateway answers as 503.

    search = ServiceRpc("search")
    ...
    self.search.find_hotels(city="Paris")               # waits at most RPC_TIMEOUT
    pending = self.search.get_hotel.call_async(42)      # fan out, then
    pending.result()                                    # the deadline counts from the call

Calls carry the caller's context data (so the user's token travels on);
`ServiceRpc("users", as_service=True)` calls with this service's own
client-credentials token instead, for what the service does in its own name.

The other side, `rpc`, is nameko's entrypoint made to outlive a broker restart, or
the loss of a cluster node (so is `event_handler`, in booking/kit/events.py).
"""
import logging
import time

import eventlet
from amqp.exceptions import ConnectionError as AMQPConnectionError
from amqp.exceptions import RecoverableConnectionError
from kombu import pools
from kombu.exceptions import OperationalError
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy, Responder, Rpc, RpcProxy, RpcReply, get_rpc_exchange

from booking.kit.errors import ServiceUnavailable, import_service_errors
from booking.kit.identity import AuthClient
from booking.kit.replies import TRANSIENT, ReplyPublisher, ServiceReplyListener

log = logging.getLogger(__name__)

# what kombu and py-amqp raise when the broker is gone (kombu's own wrapper, a closed
# connection or channel)
BROKER_ERRORS = (OperationalError, AMQPConnectionError, RecoverableConnectionError)
# what publishing a reply or acking raises then, a reset socket included
BROKER_AWAY = BROKER_ERRORS + (OSError,)

DEFAULT_TIMEOUT_SECONDS = 5
# before a message whose work met a broker that is away goes back to its queue
REQUEUE_PAUSE_SECONDS = 1


class ReplyResponder(Responder):
    publisher_cls = ReplyPublisher


class BrokerTolerantRpc(Rpc):
    """nameko's `@rpc`, with quicker replies (`ReplyPublisher`), and a reply the
    broker cannot take does not kill the service. nameko 2.14 lets that error end
    the container: a broker restarted under load would take every busy service down
    with it. Here the request, never acked, is delivered again once the broker is
    back, and answered then; its caller has long had its 503."""

    def handle_result(self, message, worker_ctx, result, exc_info):
        if broker_went_away(exc_info):
            requeue(self.rpc_consumer.queue_consumer, message, worker_ctx)
            return result, exc_info
        config = self.container.config
        responder = ReplyResponder(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        try:
            result, exc_info = responder.send_response(result, exc_info)
            self.rpc_consumer.queue_consumer.ack_message(message)
        except BROKER_AWAY:
            log.warning("no reply for %s: the broker is away; the call will come again", worker_ctx.call_id)
        return result, exc_info


rpc = BrokerTolerantRpc.decorator


def broker_went_away(exc_info):
    """Did the work fail publishing (kombu's error, not any socket's: a bank's or an
    SMTP server's is the service's own business)?"""
    return exc_info is not None and isinstance(exc_info[1], BROKER_ERRORS)


def requeue(queue_consumer, message, worker_ctx):
    """The work met a broker that was away half-way (what it wrote is committed, what
    it meant to announce or ask may not be): its message goes back to the queue and
    comes again, and the work, idempotent, finishes then (a replay announces again)."""
    log.warning("%s met a broker that is away; its message goes back to the queue", worker_ctx.call_id)
    eventlet.sleep(REQUEUE_PAUSE_SECONDS)
    queue_consumer.requeue_message(message)


class ServiceRpc(RpcProxy):
    rpc_reply_listener = ServiceReplyListener()
    auth = AuthClient()  # only used as_service

    def __init__(self, target_service, timeout=None, as_service=False, **options):
        # requests are not written to disk (a request lost with its broker costs the
        # caller a 503 and a retry, as a lost reply does); still confirmed, so that
        # a service with no queue is known at once (`UnknownService`)
        options.setdefault("delivery_mode", TRANSIENT)
        super().__init__(target_service, **options)
        self.timeout = timeout
        self.as_service = as_service

    def setup(self):
        import_service_errors(self.target_service)
        if self.timeout is None:
            self.timeout = float(self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT_SECONDS))

    def get_dependency(self, worker_ctx):
        if self.as_service:
            worker_ctx = AsService(worker_ctx, self.auth)
        return TimedServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener, self.timeout, self.options
        )


class AsService:
    """A worker context whose calls carry the service's own token, not the caller's."""

    def __init__(self, worker_ctx, auth):
        self.worker_ctx = worker_ctx
        self.container = worker_ctx.container
        self.auth = auth

    @property
    def context_data(self):
        return {
            **self.worker_ctx.context_data,
            "authorization": f"Bearer {self.auth.service_token()}",
        }


class TimedServiceProxy:
    def __init__(self, worker_ctx, service_name, reply_listener, timeout, options):
        self.worker_ctx = worker_ctx
        self.service_name = service_name
        self.reply_listener = reply_listener
        self.timeout = timeout
        self.options = options

    def __getattr__(self, method_name):
        return TimedMethodProxy(
            self.worker_ctx, self.service_name, method_name, self.reply_listener,
            timeout=self.timeout, **self.options,
        )


class TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout, **options):
        super().__init__(*args, **options)
        self.timeout = timeout

    def __call__(self, *args, **kwargs):
        return self.call_async(*args, **kwargs).result()

    def call_async(self, *args, **kwargs):
        deadline = time.monotonic() + self.timeout
        with self._unavailable_after(self.timeout, on_timeout=forget_broker_connections):
            reply = self._call(*args, **kwargs)  # publishing the request
        return TimedReply(reply.reply_event, self, deadline)

    def _unavailable_after(self, seconds, on_timeout=None):
        return _Deadline(seconds, self.service_name, self.reply_listener, on_timeout)


def forget_broker_connections():
    """Publishing a request takes milliseconds; one that did not end within the
    whole RPC timeout waited on this process's line to the broker, which a broker
    node's death can leave wedged for good (every publishing connection of kombu's
    pools held by calls that were killed half-way, so each new call waits for one
    for ever). Start the pools afresh: the calls on the old ones fail and are
    retried, and the next ones connect to a live node."""
    log.warning("a request could not be published within the RPC timeout: opening new broker connections")
    pools.reset()


class TimedReply(RpcReply):
    def __init__(self, reply_event, method_proxy, deadline):
        super().__init__(reply_event)
        self.method_proxy = method_proxy
        self.deadline = deadline

    def result(self):
        remaining = max(self.deadline - time.monotonic(), 0)
        listener = self.method_proxy.reply_listener  # a late answer makes it check it can hear any
        with self.method_proxy._unavailable_after(remaining, on_timeout=listener.check_reply_path) as deadline:
            deadline.reply_event = self.reply_event
            return super().result()


class _Deadline:
    """Raise `ServiceUnavailable` if the block takes longer than `seconds`, if the
    service has no queue at all, or if the broker cannot be reached."""

    reply_event = None

    def __init__(self, seconds, service_name, reply_listener, on_timeout=None):
        self.seconds = seconds
        self.service_name = service_name
        self.reply_listener = reply_listener
        self.on_timeout = on_timeout

    def __enter__(self):
        self.timer = eventlet.Timeout(self.seconds)
        return self

    def __exit__(self, exc_type, exc, tb):
        self.timer.cancel()
        if exc is self.timer:
            self._forget_reply()
            if self.on_timeout is not None:
                self.on_timeout()
            raise self._unavailable("did not answer in time") from None
        if isinstance(exc, UnknownService):
            raise self._unavailable("is not running") from None
        if isinstance(exc, (OperationalError, ConnectionError)):
            raise self._unavailable("cannot be reached") from None
        return False

    def _forget_reply(self):
        # a late answer would otherwise keep its event in the listener forever
        events = self.reply_listener._reply_events
        for correlation_id, event in list(events.items()):
            if event is self.reply_event:
                del events[correlation_id]

    def _unavailable(self, reason):
        return ServiceUnavailable(
            f"The {self.service_name} service {reason}; please try again shortly",
            details={"service": self.service_name},
        )
