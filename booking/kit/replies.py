"""Where replies come back: each process's own reply queue."""
import uuid

from kombu import Queue
from nameko.rpc import RPC_REPLY_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TTL, ReplyListener, get_rpc_exchange
from nameko.standalone.rpc import SingleThreadedReplyListener


class ClassicReplyQueue:
    """A process's reply queue is a classic queue, even in a vhost whose queues are
    quorum queues by default (`booking run --cluster`): it belongs to one process, so
    replicating it would only make every reply a round of consensus. If its node
    goes, the process reconnects to another and declares it there again (so it is
    not durable: a durable queue whose node is down cannot be declared again); a
    reply lost on the way costs its caller a timeout and a retry."""

    no_ack = False

    def setup(self):  # nameko's ReplyListener.setup, with the queue type
        reply_queue_uuid = uuid.uuid4()
        self.routing_key = str(reply_queue_uuid)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.container.service_name, reply_queue_uuid),
            exchange=get_rpc_exchange(self.container.config), routing_key=self.routing_key, durable=False,
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL, "x-queue-type": "classic"}, no_ack=self.no_ack,
        )
        self.queue_consumer.register_provider(self)


class ServiceReplyListener(ClassicReplyQueue, ReplyListener):
    """For a service's `RpcProxy` (`ServiceRpc`). Its replies are consumed without
    acks: an ack would only tell the broker to forget a reply this process already
    has, and it cost a frame each way per call (a twentieth of a gateway's CPU).
    A reply the process had not read when its connection dropped is lost, as one
    lost with its node already was: the caller times out and sends again. (kombu
    skips the `ack` nameko's listener still calls.)"""

    no_ack = True


class StandaloneReplyListener(ClassicReplyQueue, SingleThreadedReplyListener):
    """For `ClusterRpcProxy(config, reply_listener_cls=StandaloneReplyListener)`."""
