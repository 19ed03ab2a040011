"""booking/kit/replies.py's probe: a process whose own reply does not come back is
taken for deaf, and connects again under a new reply queue, only if its queue
consumer was connected throughout. While the broker restarts, the reply queue is
gone until the consumer connects again: cutting the consumer as it came back kept
the gateway's callers waiting 26 s after a 5 s outage (a fresh clone's fault test).
tests/integration/test_replies.py proves the cure on a real broker."""
from types import SimpleNamespace
from unittest import mock

import pytest

from booking.kit import replies


def consumer(connected=True):
    return SimpleNamespace(channel=SimpleNamespace(connection=SimpleNamespace(connected=connected)))


def listener(*consumers):
    """A listener whose queue consumer holds `consumers` one after the other (a new
    one after each reconnection); no reply ever comes back."""
    probe = replies.ServiceReplyListener()
    probe.container = SimpleNamespace(config={"AMQP_URI": "memory://"})
    probe.queue_consumer = mock.Mock()
    probe.queue_consumer._consumers.get.side_effect = [*consumers, consumers[-1], consumers[-1]]
    probe.routing_key = "key"
    probe._reply_events = {}
    probe.connect_again = mock.Mock()
    return probe


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch.object(replies, "ReplyPublisher"), mock.patch.object(replies, "PROBE_SECONDS", 0.01):
        yield


def test_a_consumer_connected_throughout_that_hears_nothing_connects_again():
    listening = consumer()
    probe = listener(listening, listening)
    probe._probe()
    probe.connect_again.assert_called_once_with()


@pytest.mark.parametrize("consumers", [
    (consumer(connected=False),),  # the broker is away: nothing sent, nothing cut
    (consumer(), consumer()),  # it connected again during the probe, declaring its queue afresh
    (consumer(), consumer(connected=False)),  # it lost its connection during the probe
])
def test_a_consumer_that_was_not_connected_throughout_is_left_to_connect_on_its_own(consumers):
    probe = listener(*consumers)
    probe._probe()
    probe.connect_again.assert_not_called()
    assert probe._reply_events == {} and not probe._probing
