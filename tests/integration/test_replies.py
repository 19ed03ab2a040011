"""RPC replies on the real broker (booking/kit/replies.py): a process whose replies
stop reaching it, without a word from the broker, notices and connects again."""
import logging

import pytest
from kombu import Connection
from nameko.testing.services import entrypoint_hook

from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.errors import ServiceUnavailable
from booking.kit.replies import ServiceReplyListener
from booking.kit.rpc import ServiceRpc, rpc
from tests import eventually


class Echo:
    name = "echo"

    @rpc
    def ping(self):
        return "pong"


class Caller:
    name = "caller"
    echo = ServiceRpc("echo", timeout=1)

    @rpc
    def ask(self):
        return self.echo.ping()


def ask(caller):
    with entrypoint_hook(caller, "ask") as hook:
        return hook()


def test_a_process_whose_replies_stop_coming_connects_again_and_hears_them(container_factory, rabbit_config,
                                                                         caplog):
    config = {**load_config(PROJECT_ROOT / "config" / "test.yaml"), **rabbit_config}
    container_factory(Echo, config).start()
    caller = container_factory(Caller, config)
    caller.start()
    assert ask(caller) == "pong"

    # the reply queue stops receiving, and nobody tells its consumer: as when RabbitMQ,
    # after a cluster node's death, deleted the record of a queue a process had just
    # declared again (docs/guarantees.md)
    listener = next(extension for extension in caller.extensions if isinstance(extension, ServiceReplyListener))
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        connection.default_channel.queue_unbind(listener.queue.name, exchange="nameko-rpc",
                                                routing_key=listener.routing_key)
    caplog.set_level(logging.WARNING, logger="booking.kit.replies")
    with pytest.raises(ServiceUnavailable, match="did not answer in time"):
        ask(caller)

    def answered():
        try:
            return ask(caller) == "pong"
        except ServiceUnavailable:
            return False
    # its probe does not come back either (3 s), so it connects again with a queue of a new name
    deaf_queue = listener.queue.name
    eventually(answered, timeout=15)
    assert "replies no longer reach this process" in caplog.text
    assert listener.queue.name != deaf_queue
