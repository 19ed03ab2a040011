"""Events that are never lost: the transactional outbox.

A service records each event it means to publish in its own database, in the
transaction that makes the change the event tells of, so that both are committed
or neither:

    outbox = Outbox("reservation_held", "reservation_cancelled")   # the events it emits
    ...
    with self.db.get_session() as session:
        reservation = ...                                           # the change
        self.outbox.add(session, "reservation_held", payload, aggregate=reservation.id)

A relay in every instance of the service publishes what is committed: each row
is handed to it after the commit that recorded it, and it sweeps every
OUTBOX_SWEEP_SECONDS, so that an event committed by a process that died is
published by the next one, or by a twin instance. It publishes as nameko's
EventDispatcher does (the `<service>.events` topic exchange, the event type as
routing key), with publisher confirms and persistent messages, in order per
aggregate (a reservation's events never overtake each other: a row is handed over,
or claimed, only when no earlier row of its aggregate waits), and marks each row
sent. A claim with a lease keeps two relays from publishing one row at once.

Delivery stays at least once (a relay that dies between the broker's confirm and
marking the row is followed by one that publishes it again), so every handler is
idempotent; each event carries `event_id` (unique) and `occurred_at` to tell.
The call that recorded an event is carried on (its call id stack), so the handler's
logs name the request it belongs to; the caller's token is not: no secret is kept.
"""
import json
import logging
import os
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import eventlet
import sqlalchemy as sa
from eventlet.queue import Empty, LightQueue
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)

from booking.kit import faults
from booking.kit.database import Database
from booking.kit.rpc import forget_broker_connections
from booking.kit.times import as_utc, utcnow

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2
# longer than publishing a batch takes: a claim this old lost its relay (a process
# that died right after its commit: its restart, or a twin, publishes after this)
LEASE_SECONDS = 5
BATCH = 200
# an event published later than this after it was recorded is logged, with its wait
SLOW_PUBLISH_SECONDS = 1
# how long a published row is kept (to look at), before the relay deletes it
KEEP_SECONDS = 24 * 3600
# a publish (with its confirm) takes milliseconds; one that has not ended after this
# waits on a line to the broker that a dead node left wedged
PUBLISH_TIMEOUT_SECONDS = 10
CALL_ID_STACK_HEADER = "nameko.call_id_stack"

OUTBOX = Table(
    "outbox", MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),  # the order events were recorded in
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(60), nullable=False),
    # what the event is about (a reservation's id): its events are published in order
    Column("aggregate", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # JSON, event_id and occurred_at included
    Column("call_id_stack", Text),  # JSON: the calls that led to it, for the logs
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(80)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Index("outbox_unpublished", "published_at", "aggregate", "id"),
)


def create_outbox_table():
    """The migration that adds a service's outbox (each service's history runs it
    once). Written out, not taken from OUTBOX: a later change of the table is a new
    migration."""
    from alembic import op  # here, not above: importing alembic was a sixth of a service's start

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("aggregate", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("call_id_stack", sa.Text),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("outbox_unpublished", "outbox", ["published_at", "aggregate", "id"])


def drop_outbox_table():
    from alembic import op

    op.drop_index("outbox_unpublished", "outbox")
    op.drop_table("outbox")


class UndeclaredEvent(LookupError):
    pass


class PublishTimedOut(ConnectionError):
    """The row stays unpublished: the next sweep (of this relay or a twin's) tries again."""


class OutboxWriter:
    """What a worker gets: `add(session, event_type, payload, aggregate)`. Without a
    relay (a unit test's `worker_factory(..., outbox=OutboxWriter(...))`), events are
    still recorded, so a test reads them from the table."""

    def __init__(self, service_name, event_types, call_id_stack=(), relay=None):
        self.service_name = service_name
        self.event_types = event_types
        self.call_id_stack = list(call_id_stack)
        self.relay = relay

    def add(self, session, event_type, payload, aggregate):
        """Record `event_type` with `payload` (a dict of JSON values) in the
        transaction of `session`; returns the event as it will be published.

        When no earlier event of the aggregate waits, the row is recorded already
        claimed by this process's relay and handed to it after the commit (one
        transaction less than claiming it); otherwise the relay claims it in turn."""
        if event_type not in self.event_types:
            raise UndeclaredEvent(f"{self.service_name} does not declare the event {event_type!r}")
        now = utcnow()
        published = {**payload, "event_id": str(uuid.uuid4()),
                     "occurred_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z")}
        row = {"event_id": published["event_id"], "event_type": event_type, "aggregate": str(aggregate),
               "payload": json.dumps(published), "call_id_stack": json.dumps(self.call_id_stack),
               "occurred_at": now}
        handed = self.relay is not None and session.execute(select(OUTBOX.c.id).where(
            OUTBOX.c.aggregate == row["aggregate"], OUTBOX.c.published_at.is_(None)).limit(1)).first() is None
        if handed:
            row.update(claimed_by=self.relay.name, claimed_at=now)
        row["id"] = session.execute(insert(OUTBOX).values(**row).returning(OUTBOX.c.id)).scalar_one()

        def committed(_session):
            faults.after_commit(event_type)  # a test's fault: die here, before anything is published
            if self.relay is not None:
                self.relay.hand(SimpleNamespace(**row) if handed else None)

        event.listen(session, "after_commit", committed, once=True)
        return published

    def forget(self, session, aggregate):
        """Delete the aggregate's events, published or waiting, in the transaction of
        `session`: an account erased takes what its events said (a name, an address)
        with it. Only for erasure: any other change announces itself with an event."""
        session.execute(delete(OUTBOX).where(OUTBOX.c.aggregate == str(aggregate)))


def events_of(session, event_type=None):
    """The payloads recorded, oldest first (of one type, if given): for tests and tools."""
    query = select(OUTBOX.c.payload).order_by(OUTBOX.c.id)
    if event_type:
        query = query.where(OUTBOX.c.event_type == event_type)
    return [json.loads(payload) for payload in session.scalars(query)]


class Relay:
    """Publishes the committed rows of one database, oldest first per aggregate."""

    def __init__(self, engine, publish, sweep_seconds=SWEEP_SECONDS, lease_seconds=LEASE_SECONDS):
        self.engine = engine
        self.publish = publish
        self.sweep_seconds = sweep_seconds
        self.lease_seconds = lease_seconds
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._handed = LightQueue()

    def hand(self, row):
        """After a commit: a row claimed for this relay to publish, or None (a row
        left for the relay to claim in turn)."""
        self._handed.put_nowait(row)

    def run(self):
        """Publish what is handed over, and what is due whenever a commit leaves a
        row to claim and at every sweep; never raises."""
        sweeps, last_sweep = 0, 0.0
        while True:
            try:
                handed, claim = self._take_handed()
                if handed and self.publish_rows(handed):
                    claim = True  # their aggregates have more waiting
                # however busy, a sweep every sweep_seconds: what a dead relay claimed,
                # or a failed publish left, is only found by claiming
                if claim or time.monotonic() - last_sweep >= self.sweep_seconds:
                    last_sweep = time.monotonic()
                    self.publish_due()
                    sweeps += 1
                    if sweeps % 1000 == 1:
                        self.forget_published()
            except Exception:  # the broker or the database away: the sweep tries again
                log.warning("the outbox relay could not publish; it tries again in %s s",
                            self.sweep_seconds, exc_info=True)

    def _take_handed(self):
        """The rows handed over (waiting up to a sweep for the first), and whether
        to claim too: at a sweep, or when a commit left a row to claim."""
        try:
            first = [self._handed.get(timeout=self.sweep_seconds)]
        except Empty:
            return [], True
        while not self._handed.empty():
            first.append(self._handed.get_nowait())
        rows = [row for row in first if row is not None]
        return rows, len(rows) < len(first)

    def publish_rows(self, rows):
        """Publish rows claimed for this relay, then mark them; True if their
        aggregates have more waiting."""
        for row in rows:
            self.publish(row)
        more = self.mark_published(rows)
        self._log_wait(rows)
        return more

    def publish_due(self):
        """Claim, publish and mark batches until nothing is due; returns how many
        were published. Two short transactions a batch: the claim, and the mark
        (which also says whether the claimed aggregates have more to publish)."""
        published = 0
        while rows := self.claim():
            more = self.publish_rows(rows)
            published += len(rows)
            if not more and len(rows) < BATCH:
                break  # anything committed meanwhile is handed over, or wakes the relay again
        return published

    @staticmethod
    def _log_wait(rows):
        longest_wait = max((utcnow() - as_utc(row.occurred_at)).total_seconds() for row in rows)
        if longest_wait > SLOW_PUBLISH_SECONDS:  # recorded by a process that died, or a broker away
            log.info("outbox: published %d events, the oldest %.1f s after it was recorded", len(rows),
                     longest_wait, extra={"outbox_wait_seconds": round(longest_wait, 3)})

    def claim(self):
        """The oldest unpublished row of each aggregate that no live relay holds,
        claimed, in the order they were recorded. Only an aggregate's oldest row is
        ever claimed, so its next row waits until this one is published."""
        now = utcnow()
        token = f"{self.name}:{uuid.uuid4().hex[:8]}"
        heads = (select(func.min(OUTBOX.c.id)).where(OUTBOX.c.published_at.is_(None))
                 .group_by(OUTBOX.c.aggregate).limit(BATCH))
        with self.engine.begin() as connection:
            rows = connection.execute(update(OUTBOX).where(
                OUTBOX.c.id.in_(heads.scalar_subquery()), OUTBOX.c.published_at.is_(None),
                or_(OUTBOX.c.claimed_at.is_(None), OUTBOX.c.claimed_at < now - timedelta(seconds=self.lease_seconds)),
            ).values(claimed_by=token, claimed_at=now).returning(*OUTBOX.c)).all()
        return sorted(rows, key=lambda row: row.id)

    def mark_published(self, rows):
        """Mark the rows published; True if their aggregates have more waiting."""
        with self.engine.begin() as connection:
            connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_([row.id for row in rows]))
                               .values(published_at=utcnow()))
            return connection.execute(select(OUTBOX.c.id).where(
                OUTBOX.c.published_at.is_(None),
                OUTBOX.c.aggregate.in_({row.aggregate for row in rows})).limit(1)).first() is not None

    def forget_published(self):
        cutoff = utcnow() - timedelta(seconds=KEEP_SECONDS)
        with self.engine.begin() as connection:
            connection.execute(delete(OUTBOX).where(and_(OUTBOX.c.published_at.is_not(None),
                                                         OUTBOX.c.published_at < cutoff)))


class Outbox(DependencyProvider):
    """The service's events, declared (`Outbox("reservation_held", ...)`), recorded
    by its workers in their transactions and published by its relay. An event not
    declared is refused, so a misspelt one fails at once; the declaration is what
    `booking diagrams` draws and docs/architecture.md lists."""

    def __init__(self, *event_types):
        self.event_types = event_types
        self.relay = None

    def setup(self):
        config = self.container.config
        self.exchange = get_event_exchange(self.container.service_name, config)
        self.publisher = Publisher(
            config[AMQP_URI_CONFIG_KEY], serializer=config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            declare=[self.exchange], ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY))

    def start(self):
        database = next(dependency for dependency in self.container.dependencies
                        if isinstance(dependency, Database))
        sweep = float(self.container.config.get("OUTBOX_SWEEP_SECONDS", SWEEP_SECONDS))
        self.relay = Relay(database.engine, self._publish, sweep_seconds=sweep)
        self._thread = self.container.spawn_managed_thread(self.relay.run, identifier="outbox relay")

    def stop(self):
        if self.relay is not None:
            self._thread.kill()

    def kill(self):
        self.stop()

    def _publish(self, row):
        headers = {CALL_ID_STACK_HEADER: json.loads(row.call_id_stack)} if row.call_id_stack else {}
        # confirmed and persistent (nameko's Publisher defaults): the row is marked sent
        # only once the broker has the event on disk
        try:
            with eventlet.Timeout(PUBLISH_TIMEOUT_SECONDS):
                self.publisher.publish(json.loads(row.payload), exchange=self.exchange,
                                       routing_key=row.event_type, extra_headers=headers)
        except eventlet.Timeout:
            forget_broker_connections()
            raise PublishTimedOut(f"{row.event_type} {row.event_id} was not published within "
                                  f"{PUBLISH_TIMEOUT_SECONDS} s") from None

    def get_dependency(self, worker_ctx):
        return OutboxWriter(self.container.service_name, self.event_types, worker_ctx.call_id_stack, self.relay)

