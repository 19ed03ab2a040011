"""Handling events: a handler that fails is retried later, then parked, never dropped.

    @event_handler("payments", "payment_succeeded")
    def confirm_paid(self, payment): ...

is nameko's `@event_handler` (a durable queue per handler, acked when done), with
what nameko leaves out (it acks an event whose handler raised, and the work is
lost):

- a handler that raises is tried again after a delay that doubles each time
  (EVENT_RETRY_DELAY_MS, 1 s by default): the event is republished to the
  `booking.retry` headers exchange, which routes it to the queue of that delay,
  `booking.retry.<ms>`, whose TTL dead-letters it back to the handler's own queue
  (RabbitMQ's dead-letter exchanges and per-queue TTL do the waiting). Meanwhile the
  messages behind it go on: a poison message blocks nothing. The waiting queues are
  quorum queues that dead-letter at least once: RabbitMQ's default, at most once,
  lost events whose handler's queue was electing a new leader (a broker node dead).
- after EVENT_MAX_TRIES tries (8 by default) it is parked in the service's
  dead-letter queue, `<service>.dead-letters`, with the error, the number of tries
  and where it came from; `booking dead-letters` lists them and `booking
  dead-letters replay` sends them back to their handler (booking/kit/deadletters.py).
- an ack or a republish the broker cannot take does not kill the service: the
  event, never acked, comes again (as with `rpc`, booking/kit/rpc.py).

Delivery is at least once: every handler is idempotent.
"""
import json
import logging
import uuid
from datetime import UTC, datetime

from kombu import Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.events import EventHandler

from booking.kit.rpc import BROKER_AWAY, broker_went_away, requeue

log = logging.getLogger(__name__)

# 1 + 2 + 4 + … + 64 s: about two minutes, longer than a broker node's death takes to ride
# out (reconnecting, a new leader for each quorum queue, auth's proxy made again)
MAX_TRIES = 8
FIRST_DELAY_MS = 1000
# (a headers exchange ignores headers that start with "x-": these do not)
TRIES_HEADER = "booking-tries"
DELAY_HEADER = "booking-backoff-ms"
DEAD_LETTER_HEADER = "booking-dead-letter"
# what RabbitMQ adds when it dead-letters; not carried into a republished copy
BROKER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                  "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason")

# (`booking.backoff` and its classic or at-most-once queues before: a queue's
# arguments cannot change, so the waiting queues have new names)
BACKOFF_EXCHANGE = Exchange("booking.retry", type="headers", durable=True)


def backoff_queue(delay_ms):
    """Where an event waits `delay_ms` before going back to its handler's queue:
    replicated on a cluster, and handed back with the broker's publisher confirms
    (at-least-once dead-lettering, which needs `reject-publish` overflow)."""
    return Queue(f"booking.retry.{delay_ms}", exchange=BACKOFF_EXCHANGE, durable=True,
                 binding_arguments={"x-match": "all", DELAY_HEADER: str(delay_ms)},
                 queue_arguments={"x-message-ttl": delay_ms, "x-dead-letter-exchange": "", "x-queue-type": "quorum",
                                  "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})


def dead_letter_queue(service_name):
    return Queue(f"{service_name}.dead-letters", durable=True)


def delay_before(tries, first_delay_ms):
    """The wait before try `tries + 1`: the first delay, doubled after each try."""
    return first_delay_ms * 2 ** (tries - 1)


def copied_headers(headers):
    return {name: value for name, value in (headers or {}).items() if name not in BROKER_HEADERS}


class RetryingEventHandler(EventHandler):
    def setup(self):
        super().setup()
        config = self.container.config
        self.max_tries = int(config.get("EVENT_MAX_TRIES", MAX_TRIES))
        self.first_delay_ms = int(config.get("EVENT_RETRY_DELAY_MS", FIRST_DELAY_MS))
        self.publisher = Publisher(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                                   login_method=config.get(LOGIN_METHOD_CONFIG_KEY))

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if broker_went_away(exc_info):
            requeue(self.queue_consumer, message, worker_ctx)
            return result, exc_info
        try:
            if exc_info is not None and self.reliable_delivery:
                self.try_again_later(message, exc_info)
            # acked, since it is either done or waiting elsewhere (nameko acks a failure too)
            self.queue_consumer.ack_message(message)
        except BROKER_AWAY:
            log.warning("could not ack %s: the broker is away; the event will come again", worker_ctx.call_id)
        return result, exc_info

    def try_again_later(self, message, exc_info):
        tries = int((message.headers or {}).get(TRIES_HEADER, 0)) + 1
        error = f"{type(exc_info[1]).__name__}: {exc_info[1]}"[:1000]
        handler = f"{self.container.service_name}.{self.method_name}"
        headers = {**copied_headers(message.headers), TRIES_HEADER: tries}
        if tries < self.max_tries:
            delay = delay_before(tries, self.first_delay_ms)
            log.warning("%s failed on %s (%s), try %d of %d; trying again in %d ms", handler, self.event_type,
                        error, tries, self.max_tries, delay)
            self.publisher.publish(message.payload, exchange=BACKOFF_EXCHANGE, routing_key=self.queue.name,
                                   headers={**headers, DELAY_HEADER: str(delay)}, declare=[backoff_queue(delay)])
            return
        parked = {"id": uuid.uuid4().hex[:12], "service": self.container.service_name, "handler": self.method_name,
                  "queue": self.queue.name, "source": self.source_service, "event_type": self.event_type,
                  "error": error, "tries": tries, "parked_at": datetime.now(UTC).isoformat(timespec="seconds")}
        log.error("%s failed on %s %d times (%s); parked in %s.dead-letters as %s", handler, self.event_type,
                  tries, error, self.container.service_name, parked["id"])
        queue = dead_letter_queue(self.container.service_name)
        self.publisher.publish(message.payload, exchange="", routing_key=queue.name, declare=[queue],
                               headers={**headers, DEAD_LETTER_HEADER: json.dumps(parked)})


event_handler = RetryingEventHandler.decorator
