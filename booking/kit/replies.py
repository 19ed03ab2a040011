"""Where replies come back: each process's own reply queue."""
import logging
import socket
import time
import uuid

import eventlet
from amqp.exceptions import AMQPError
from kombu import Queue
from kombu.exceptions import KombuError
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_TRANSPORT_OPTIONS,
    LOGIN_METHOD_CONFIG_KEY,
)
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, ReplyListener, get_rpc_exchange
from nameko.standalone.rpc import SingleThreadedReplyListener

log = logging.getLogger(__name__)

TRANSIENT = 1  # AMQP delivery mode: kept in memory only
# how long a process's own probe may take to come back before its replies are taken
# for lost, and how seldom it probes (each failed probe makes it connect again)
PROBE_SECONDS = 3
PROBE_INTERVAL_SECONDS = 10


class ReplyPublisher(Publisher):
    """Replies go without a publisher confirm and are not written to disk: a lost
    reply costs its caller a timeout and a retry (every call is idempotent), never
    data, and waiting for the confirm was a fifth of a reply's time."""

    use_confirms = False
    delivery_mode = TRANSIENT
    # Its own connection options. nameko 2.14 keeps one `transport_options` dict on
    # its Publisher class and sets `confirm_publish` in it at every publish; kombu's
    # pooled connections keep that dict and read it whenever they (re)connect. So a
    # reply published while the events' connections reconnected (after a broker
    # node's death) turned their publisher confirms off, and events published
    # unconfirmed to a queue electing a leader were dropped (docs/guarantees.md).
    transport_options = {**DEFAULT_TRANSPORT_OPTIONS, "confirm_publish": False}


class ClassicReplyQueue:
    """A process's reply queue is a classic queue, even in a vhost whose queues are
    quorum queues by default (`booking run --cluster`): it belongs to one process, so
    replicating it would only make every reply a round of consensus. If its node
    goes, the process reconnects to another and declares it there again (so it is
    not durable: a durable queue whose node is down cannot be declared again); a
    reply lost on the way costs its caller a timeout and a retry."""

    no_ack = False

    def setup(self):  # nameko's ReplyListener.setup, with the queue type
        self.new_queue()
        self.queue_consumer.register_provider(self)

    def new_queue(self):
        """A reply queue of a new name: the queue consumer declares it when it next
        connects, and the calls made from now on ask for their replies there."""
        reply_queue_uuid = uuid.uuid4()
        self.routing_key = str(reply_queue_uuid)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_queue_uuid),
            exchange=get_rpc_exchange(self.container.config), routing_key=self.routing_key, durable=False,
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL, "x-queue-type": "classic"}, no_ack=self.no_ack,
        )


class ServiceReplyListener(ClassicReplyQueue, ReplyListener):
    """For a service's `RpcProxy` (`ServiceRpc`). Its replies are consumed without
    acks: an ack would only tell the broker to forget a reply this process already
    has, and it cost a frame each way per call (a twentieth of a gateway's CPU).
    A reply the process had not read when its connection dropped is lost, as one
    lost with its node already was: the caller times out and sends again. (kombu
    skips the `ack` nameko's listener still calls.)

    When an answer does not come in time, the listener checks that replies still
    reach it at all: it sends one to itself. If that does not come back either, it
    takes a reply queue of a new name and connects to the broker again, which
    declares, binds and consumes that queue. After a cluster node's death a
    process could otherwise stay deaf for good: a process that declared its reply
    queue again while RabbitMQ was deleting the dead node's transient queues got
    an answer from the old record, and from then on, declared again under the
    same name, the queue took nothing, without a word (docs/guarantees.md)."""

    no_ack = True
    _probing = False
    _next_probe = 0.0

    def check_reply_path(self):
        """An answer did not come in time: make sure this process can still hear
        any (at most one probe at a time, one per PROBE_INTERVAL_SECONDS)."""
        if self._probing or time.monotonic() < self._next_probe:
            return
        self._probing = True
        self.container.spawn_managed_thread(self._probe, identifier="reply path probe")

    def _probe(self):
        """Only a consumer connected throughout is taken for deaf: while the broker
        restarts, the reply queue (not durable) is gone until the queue consumer
        connects again and declares it, and cutting that consumer as it came back
        made a broker outage of 5 s cost the gateway's callers 503s for 26 s."""
        config = self.container.config
        correlation_id = f"probe.{uuid.uuid4()}"
        reply = self.get_reply_event(correlation_id)
        try:
            listening = self._connected_consumer()
            if listening is None:
                return  # the broker is away: the queue consumer connects again on its own
            ReplyPublisher(config[AMQP_URI_CONFIG_KEY], ssl=config.get(AMQP_SSL_CONFIG_KEY),
                           login_method=config.get(LOGIN_METHOD_CONFIG_KEY)).publish(
                {"result": None, "error": None}, exchange=get_rpc_exchange(config),
                routing_key=self.routing_key, correlation_id=correlation_id)
            heard = eventlet.with_timeout(PROBE_SECONDS, reply.wait, timeout_value=None) is not None
            if not heard and self._connected_consumer() is listening:
                log.warning("replies no longer reach this process (its own did not come back in %s s): "
                            "connecting to the broker again with a new reply queue", PROBE_SECONDS)
                self.connect_again()
        except (OSError, KombuError, AMQPError):
            pass  # the broker is away: the queue consumer connects again on its own
        finally:
            self._reply_events.pop(correlation_id, None)
            self._next_probe = time.monotonic() + PROBE_INTERVAL_SECONDS
            self._probing = False

    def _consumer(self):
        """The queue consumer's consumer of this reply queue (a new one after each
        reconnection) and its connection; either may be None."""
        consumer = self.queue_consumer._consumers.get(self)
        return consumer, consumer and consumer.channel and consumer.channel.connection

    def _connected_consumer(self):
        """That consumer if its connection is up, else None."""
        consumer, connection = self._consumer()
        return consumer if connection and connection.connected else None

    def connect_again(self):
        """A reply queue of a new name, and the queue consumer's connection cut: it
        connects again as after any broker outage (the messages it had not acked
        come again) and consumes the new queue."""
        self.new_queue()
        _, connection = self._consumer()
        if connection and connection.transport and connection.transport.sock:
            connection.transport.sock.shutdown(socket.SHUT_RDWR)


class StandaloneReplyListener(ClassicReplyQueue, SingleThreadedReplyListener):
    """For `ClusterRpcProxy(config, reply_listener_cls=StandaloneReplyListener)`."""
