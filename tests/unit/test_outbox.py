"""The outbox: an event is recorded in the transaction of its change (both or
neither), published after the commit in order per aggregate, once per claim, and
found again by another relay when the one that claimed it died."""
import json
from contextlib import nullcontext
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import eventlet
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.kit import faults, outbox
from booking.kit.outbox import OUTBOX, OutboxWriter, Relay, UndeclaredEvent, events_of, utcnow
from tests.unit.test_holds import migrated_engine


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(tmp_path, "reservations")
    yield engine
    engine.dispose()


def record(engine, *events, writer=None, fail=False):
    """Record (event_type, aggregate, payload) in one transaction; `fail` rolls it back."""
    writer = writer or OutboxWriter("reservations", ("reservation_held", "reservation_cancelled"))
    with pytest.raises(RuntimeError) if fail else nullcontext(), Session(engine) as session, session.begin():
        for event_type, aggregate, payload in events:
            writer.add(session, event_type, payload, aggregate)
        if fail:
            raise RuntimeError("the change failed half-way")


def published_by(relay_publish):
    return [(row.event_type, json.loads(row.payload)["n"]) for row in relay_publish]


def test_an_event_is_recorded_with_its_change_and_not_without_it(engine):
    record(engine, ("reservation_held", "BK1", {"n": 1}))
    record(engine, ("reservation_held", "BK2", {"n": 2}), fail=True)
    with Session(engine) as session:
        [event] = events_of(session)
    assert event["n"] == 1
    assert len(event["event_id"]) == 36 and event["occurred_at"].endswith("Z")


def test_an_event_the_service_does_not_declare_is_refused(engine):
    with pytest.raises(UndeclaredEvent, match="reservations does not declare the event 'reservation_lost'"):
        record(engine, ("reservation_lost", "BK1", {"n": 1}))


class HandedRows:
    """Stands in for the relay a worker hands its committed rows to."""

    name = "relay-under-test"

    def __init__(self):
        self.rows = []

    def hand(self, row):
        self.rows.append(row)


def test_a_commit_hands_the_row_to_the_relay_already_claimed_and_a_rollback_hands_nothing(engine):
    relay = HandedRows()
    writer = OutboxWriter("reservations", ("reservation_held", "reservation_cancelled"), relay=relay)
    record(engine, ("reservation_held", "BK1", {"n": 1}), writer=writer, fail=True)
    assert relay.rows == []
    record(engine, ("reservation_held", "BK1", {"n": 1}), writer=writer)
    [row] = relay.rows
    assert (row.event_type, json.loads(row.payload)["n"]) == ("reservation_held", 1)
    with engine.connect() as connection:
        assert connection.execute(select(OUTBOX.c.claimed_by)).scalar() == "relay-under-test"


def test_a_row_whose_aggregate_has_an_earlier_one_waiting_is_left_to_be_claimed_in_turn(engine):
    relay = HandedRows()
    writer = OutboxWriter("reservations", ("reservation_held", "reservation_cancelled"), relay=relay)
    record(engine, ("reservation_held", "BK1", {"n": 1}), writer=writer)
    record(engine, ("reservation_cancelled", "BK1", {"n": 2}), writer=writer)  # the hold is not published yet
    handed, claim_later = relay.rows
    assert json.loads(handed.payload)["n"] == 1 and claim_later is None

    sent = []
    Relay(engine, sent.append).publish_rows([handed])
    assert published_by(sent) == [("reservation_held", 1)]
    assert Relay(engine, sent.append).publish_due() == 1  # the cancellation, after the hold
    assert published_by(sent) == [("reservation_held", 1), ("reservation_cancelled", 2)]


def test_the_relay_publishes_each_aggregates_events_in_order_and_marks_them(engine):
    record(engine, ("reservation_held", "BK1", {"n": 1}), ("reservation_held", "BK2", {"n": 2}))
    record(engine, ("reservation_cancelled", "BK1", {"n": 3}))
    sent = []
    relay = Relay(engine, sent.append)
    assert relay.publish_due() == 3
    assert published_by(sent) == [("reservation_held", 1), ("reservation_held", 2), ("reservation_cancelled", 3)]
    assert relay.publish_due() == 0  # nothing twice
    with engine.connect() as connection:
        assert all(connection.scalars(select(OUTBOX.c.published_at)))


def test_a_later_event_of_an_aggregate_waits_while_an_earlier_one_is_claimed_by_another_relay(engine):
    record(engine, ("reservation_held", "BK1", {"n": 1}), ("reservation_held", "BK2", {"n": 2}))
    record(engine, ("reservation_cancelled", "BK1", {"n": 3}))
    first = Relay(engine, lambda row: None)
    claimed = first.claim()  # BK1's held and BK2's held; the first relay then dies
    assert [json.loads(row.payload)["n"] for row in claimed] == [1, 2]

    sent = []
    second = Relay(engine, sent.append)
    assert second.publish_due() == 0  # BK1's cancellation may not overtake its hold
    with engine.begin() as connection:  # the lease runs out
        connection.execute(update(OUTBOX).values(claimed_at=utcnow() - timedelta(minutes=1)))
    assert second.publish_due() == 3
    assert published_by(sent) == [("reservation_held", 1), ("reservation_held", 2), ("reservation_cancelled", 3)]


def test_a_publish_that_fails_leaves_the_event_for_the_next_sweep(engine):
    record(engine, ("reservation_held", "BK1", {"n": 1}))

    def broker_away(row):
        raise ConnectionError("the broker is away")

    with pytest.raises(ConnectionError):
        Relay(engine, broker_away, lease_seconds=0).publish_due()
    sent = []
    assert Relay(engine, sent.append, lease_seconds=0).publish_due() == 1
    assert published_by(sent) == [("reservation_held", 1)]


def test_the_fault_switch_kills_once_per_step_and_only_when_set(tmp_path, monkeypatch):
    killed = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, signal: killed.append(signal))
    faults.after_commit("reservation_held")
    assert killed == []  # unset: nothing happens
    monkeypatch.setenv(faults.DIE_AFTER_COMMIT, "reservation_held,payment_succeeded")
    monkeypatch.setenv(faults.FAULTS_DIR, str(tmp_path))
    faults.after_commit("reservation_cancelled")
    faults.after_commit("reservation_held")
    faults.after_commit("reservation_held")
    assert len(killed) == 1
    assert (tmp_path / "died-after-commit-reservation_held").exists()


def test_a_publish_that_hangs_gives_up_leaves_the_event_and_opens_new_broker_connections(monkeypatch):
    """A broker node that died can leave the line to the broker wedged: the relay's
    publish gives up (the row stays for the next sweep) instead of waiting for ever,
    and the process's pooled connections are opened afresh."""
    monkeypatch.setattr(outbox, "PUBLISH_TIMEOUT_SECONDS", 0.1)
    dependency = outbox.Outbox("thing_happened")
    dependency.exchange = "booking.events"
    dependency.publisher = mock.Mock(publish=lambda *args, **kwargs: eventlet.sleep(5))
    row = SimpleNamespace(event_type="thing_happened", event_id="e-1", payload="{}", call_id_stack=None)
    with mock.patch("booking.kit.outbox.forget_broker_connections") as forget:
        with pytest.raises(outbox.PublishTimedOut):
            dependency._publish(row)
    forget.assert_called_once_with()
