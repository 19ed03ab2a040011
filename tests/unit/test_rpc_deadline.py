"""booking/kit/rpc.py's deadline: a request that cannot even be published within
the RPC timeout is ServiceUnavailable, and this process's broker connections are
opened afresh (a dead broker node can leave kombu's pools wedged); a reply that
is merely late leaves them alone."""
from unittest import mock

import eventlet
import pytest
from nameko.rpc import RpcReply

from booking.kit.errors import ServiceUnavailable
from booking.kit.rpc import TimedMethodProxy


def proxy(publish):
    worker_ctx = mock.Mock()
    worker_ctx.container.config = {"AMQP_URI": "memory://"}
    method = TimedMethodProxy(worker_ctx, "search", "find_hotels", mock.Mock(_reply_events={}), timeout=0.2)
    method._call = publish
    return method


def test_a_request_not_published_in_time_opens_new_broker_connections():
    with mock.patch("booking.kit.rpc.pools.reset") as reset:
        with pytest.raises(ServiceUnavailable) as refusal:
            proxy(lambda *args, **kwargs: eventlet.sleep(5))()
    assert "did not answer in time" in refusal.value.message
    reset.assert_called_once_with()


def test_a_late_reply_keeps_the_broker_connections():
    never = eventlet.Event()
    with mock.patch("booking.kit.rpc.pools.reset") as reset:
        with pytest.raises(ServiceUnavailable):
            proxy(lambda *args, **kwargs: RpcReply(never))()
    reset.assert_not_called()
