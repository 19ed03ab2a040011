"""Events are never lost, on the real broker: the outbox publishes what a service
committed (even when the process that committed it died before publishing), a
handler that fails is tried again after a growing delay (RabbitMQ's dead-letter
exchange and per-delay TTL queues), one that keeps failing is parked in its
service's dead-letter queue, and `booking dead-letters replay` completes its work."""
import io
import time
from argparse import Namespace
from datetime import UTC, datetime

import pytest
from amqp.exceptions import MessageNacked
from kombu import Connection, Queue, binding
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook
from sqlalchemy import insert
from sqlalchemy.orm import Session

from booking import cli
from booking.kit.database import Database, create_db_engine
from booking.kit.events import BACKOFF_EXCHANGE, DELAY_HEADER, TRIES_HEADER, event_handler
from booking.kit.outbox import OUTBOX, Outbox
from booking.kit.rpc import ReplyPublisher
from booking.reservations.models import Base
from tests import eventually
from tests.unit.test_holds import migrated_engine

LISTENING = ["listener"]  # whose dead-letter queue `booking dead-letters` looks at here
handled = []  # (handler, n, monotonic time) of every try
broken = {"always": True}


class Recorder:
    """Records an event with each change, as the services do."""

    name = "recorder"
    db = Database(Base)
    outbox = Outbox("noted")

    @rpc
    def note(self, n):
        with self.db.get_session() as session:
            self.outbox.add(session, "noted", {"n": n}, aggregate="one")


class Listener:
    name = "listener"

    @event_handler("recorder", "noted")
    def on_noted(self, event):
        handled.append(("on_noted", event["n"], time.monotonic()))

    @event_handler("source", "flaky")
    def fails_twice(self, event):
        handled.append(("fails_twice", event["n"], time.monotonic()))
        if sum(1 for name, n, _ in handled if name == "fails_twice" and n == event["n"]) <= 2:
            raise ConnectionResetError("the mail server went away")

    @event_handler("source", "poison")
    def fails_until_fixed(self, event):
        handled.append(("fails_until_fixed", event["n"], time.monotonic()))
        if broken["always"] and event["n"] == 0:
            raise KeyError("hotel_id")


@pytest.fixture(autouse=True)
def fresh():
    handled.clear()
    broken["always"] = True


@pytest.fixture
def events_config(config, tmp_path):
    engine = migrated_engine(tmp_path, "reservations")  # any service's history has an outbox table
    engine.dispose()
    return {**config, "DB_URIS": {"recorder": f"sqlite:///{tmp_path}/reservations.db"},
            "EVENT_RETRY_DELAY_MS": 200, "EVENT_MAX_TRIES": 3, "OUTBOX_SWEEP_SECONDS": 0.5}


def tries_of(name, n=None):
    return [at for handler, number, at in handled if handler == name and (n is None or number == n)]


def test_what_a_service_commits_is_published_after_the_commit_in_order(container_factory, events_config):
    container_factory(Listener, events_config).start()
    recorder = container_factory(Recorder, events_config)
    recorder.start()
    with entrypoint_hook(recorder, "note") as note:
        for n in range(5):
            note(n)
    eventually(lambda: [n for _, n, _ in handled] == [0, 1, 2, 3, 4])


def test_a_reply_sent_unconfirmed_leaves_the_events_confirmed_when_their_connection_is_made_again(rabbit_config):
    """The outbox publishes with the broker's confirms, whatever else the process
    publishes. nameko 2.14 kept one options dict for all its publishers, which the
    unconfirmed RPC replies set to "no confirms"; kombu makes a pooled connection
    again with its publisher's options, as it did for every connection after a broker
    node's death, and the events went unconfirmed, some dropped by a queue electing
    a leader (docs/guarantees.md)."""
    uri = rabbit_config["AMQP_URI"]
    events = Publisher(uri)
    events.publish({}, routing_key="nowhere")
    ReplyPublisher(uri).publish({}, routing_key="nowhere")
    with Connection(uri, transport_options=events.transport_options) as remade:
        channel = remade.channel()
        full = Queue("full", exclusive=True, queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        full(channel).declare()
        with pytest.raises(MessageNacked):  # refused, and the publisher is told
            channel.basic_publish(channel.prepare_message(b"event"), exchange="", routing_key="full")


def test_an_event_committed_by_a_process_that_died_before_publishing_is_published_by_the_next(
        container_factory, events_config):
    # what a process that died right after its commit leaves: a row nobody published
    engine = create_db_engine(events_config["DB_URIS"]["recorder"])
    with Session(engine) as session, session.begin():
        session.execute(insert(OUTBOX).values(
            event_id="0b8c2f4e-0000-4000-8000-000000000001", event_type="noted", aggregate="one",
            payload='{"n": 41, "event_id": "0b8c2f4e-0000-4000-8000-000000000001"}', call_id_stack="[]",
            occurred_at=datetime.now(UTC)))
    engine.dispose()
    container_factory(Listener, events_config).start()
    container_factory(Recorder, events_config).start()  # its relay sweeps at start
    eventually(lambda: [n for _, n, _ in handled] == [41], timeout=10)


def test_a_handler_that_fails_twice_succeeds_on_the_third_try_after_a_growing_backoff(
        container_factory, events_config, rabbit_config, rabbit_manager):
    container_factory(Listener, events_config).start()
    # a tap on the backoff exchange: what waits in the broker, and for how long
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        tap = Queue("test-backoff-tap", bindings=[
            binding(BACKOFF_EXCHANGE, arguments={"x-match": "all", DELAY_HEADER: delay}) for delay in ("200", "400")])
        tap(connection.channel()).declare()
        event_dispatcher(events_config)("source", "flaky", {"n": 7})
        eventually(lambda: len(tries_of("fails_twice", 7)) == 3, timeout=10)
        first, second, third = tries_of("fails_twice", 7)
        assert second - first >= 0.2 and third - second >= 0.4  # 200 ms, then 400
        waited = []
        channel = connection.channel()
        while (message := tap(channel).get(no_ack=True)) is not None:
            waited.append((message.headers[TRIES_HEADER], message.headers[DELAY_HEADER]))
        assert waited == [(1, "200"), (2, "400")]
    # waiting survives a broker node's death and hands the event back at least once
    arguments = rabbit_manager.get_queue(rabbit_config["vhost"], "booking.retry.200")["arguments"]
    assert (arguments["x-queue-type"], arguments["x-dead-letter-strategy"]) == ("quorum", "at-least-once")


def test_a_handler_that_keeps_failing_is_parked_blocks_nothing_and_is_replayed_once_fixed(
        container_factory, events_config, capsys):
    container_factory(Listener, events_config).start()
    dispatch = event_dispatcher(events_config)
    dispatch("source", "poison", {"n": 0})
    dispatch("source", "poison", {"n": 1})
    # the message behind the poison is handled at once, not after its tries
    eventually(lambda: len(tries_of("fails_until_fixed", 1)) == 1, timeout=5)
    assert len(tries_of("fails_until_fixed", 0)) < 3

    eventually(lambda: len(tries_of("fails_until_fixed", 0)) == 3, timeout=10)
    listing = io.StringIO()
    eventually(lambda: cli.dead_letters(events_config, Namespace(action=None), out=listing, services=LISTENING) == 0
               and "1 dead letters" in listing.getvalue(), timeout=10)
    line = listing.getvalue().splitlines()[1]
    assert "listener.fails_until_fixed <- source.poison" in line and "tries 3" in line
    assert "KeyError: 'hotel_id'" in line
    letter_id = line.split()[0]

    broken["always"] = False  # the cause is fixed
    out = io.StringIO()
    assert cli.dead_letters(events_config, Namespace(action="replay", id=letter_id, all=False), out=out,
                            services=LISTENING) == 0
    assert f"Replayed 1: {letter_id}" in out.getvalue()
    eventually(lambda: len(tries_of("fails_until_fixed", 0)) == 4, timeout=5)
    time.sleep(0.5)
    assert len(tries_of("fails_until_fixed", 0)) == 4  # once more, and done
    empty = io.StringIO()
    cli.dead_letters(events_config, Namespace(action=None), out=empty, services=LISTENING)
    assert empty.getvalue().startswith("0 dead letters")
