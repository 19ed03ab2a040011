"""What survives: two instances of every service, services killed with SIGKILL in
the middle of bookings, the broker stopped under load.

The stack runs as `make run` runs it (`booking run`, every service twice), on a
RabbitMQ node of its own that these tests may stop, with holds that expire in
HOLD_SECONDS. Guests book over HTTP as a client should: a request that got no
answer, or a 503, is sent again with the same Idempotency-Key.
Each test records its figures (see the `figures` fixture).
"""
import itertools
import os
import random
import shutil
import signal
import sqlite3
import time
import uuid
from collections import Counter
from datetime import date, timedelta

import eventlet
import pytest
import requests
from kombu import Connection, Exchange, Queue
from requests.utils import quote

from booking.devstack.broker import LocalBroker
from booking.devstack.mailsink import read_messages
from booking.kit.config import PROJECT_ROOT
from booking.reservations.service import SWEEP_SECONDS
from tests.e2e.stack import Stack, alive, stack_environment
from tests.integration.test_booking_saga import eventually

pytestmark = pytest.mark.slow

FAULTS_AMQP_PORT = 5712
SERVICES = ("auth", "users", "search", "reservations", "payments", "reports", "gateway")
HOLD_SECONDS = 40
VISA, DECLINED = "4242424242424242", "4000000000000002"
# an answer that says "not now": the same request is sent again
TRY_AGAIN = {502, 503, 504}
ANSWER_DEADLINE_SECONDS = 120
# a sweep may start just before a hold expires, and settling takes a moment
SWEEP_SLACK_SECONDS = 10


@pytest.fixture(scope="module")
def faults_broker():
    root = PROJECT_ROOT / "var" / "test" / "rabbitmq-faults"
    shutil.rmtree(root, ignore_errors=True)  # a new node: no queue or message of an earlier run
    node = LocalBroker(root, port=FAULTS_AMQP_PORT,
                       management_port=FAULTS_AMQP_PORT + 10000, node="booking-faults@localhost")
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def stack(faults_broker, tmp_path_factory):
    env = stack_environment(f"amqp://guest:guest@localhost:{FAULTS_AMQP_PORT}/",
                            tmp_path_factory.mktemp("faults"), HOLD_SECONDS=HOLD_SECONDS,
                            BANK_TIMEOUT=5, LOG_LEVEL="WARNING")
    stack = Stack(env, *[f"--scale={service}=2" for service in SERVICES])
    try:
        stack.wait_for(r"Booking is ready", timeout=300)
        yield stack
    finally:
        assert stack.stop(), stack.output[-20000:]


# -- guests ----------------------------------------------------------------------------

class Guest(requests.Session):
    """A registered, logged-in guest of `base`."""

    def __init__(self, base, name):
        super().__init__()
        self.base = base
        account = {"email": f"{name}@example.com", "password": "fault tolerant guest 2026", "full_name": name}
        answer(lambda: self.post("/api/v1/users", json=account), done={201, 409})
        tokens = answer(lambda: self.post("/api/v1/auth/login", json={k: account[k] for k in ("email", "password")}))
        self.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.base + url, *args, timeout=30, **kwargs)


def answer(send, done=None):
    """Send until the platform gives a definite answer (not a dropped connection,
    a 503 or a payment still in progress); None if it never does in time."""
    deadline = time.monotonic() + ANSWER_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            response = send()
        except requests.RequestException:
            response = None
        if response is not None and response.status_code not in TRY_AGAIN and not (
                response.status_code == 409 and response.json().get("error") == "PAYMENT_IN_PROGRESS"):
            assert done is None or response.status_code in done, response.text
            return response
        SENT_AGAIN.append(1)
        eventlet.sleep(0.5)
    return None


SENT_AGAIN = []  # one entry per request that had to be sent again


def card(number):
    return {"number": number, "exp_month": 12, "exp_year": date.today().year + 2, "cvc": "123",
            "holder": "Fault Tolerant"}


def bookable_rooms(base, city="Paris", hotels=12):
    """(hotel_id, room type code) of the room types for two of `hotels` hotels of `city`."""
    found = requests.get(f"{base}/api/v1/hotels", params={"city": city, "per_page": hotels}, timeout=30).json()
    rooms = []
    for hotel in found["items"]:
        detail = requests.get(f"{base}/api/v1/hotels/{hotel['id']}", params={"guests": 2}, timeout=30).json()
        rooms += [(hotel["id"], room["code"]) for room in detail["room_types"]]
    return rooms


class Bookings:
    """Bookings made by `guests` at random among `rooms`: every tenth is never paid,
    every tenth is paid with a declined card, the others with a good one."""

    def __init__(self, guests, rooms, seed):
        self.guests, self.rooms = guests, rooms
        self.rng = random.Random(seed)
        self.outcomes_so_far, self.done = [], 0

    def make(self, count, concurrency=10, pause=0.0):
        """Make `count` bookings, `concurrency` at a time, each guest pausing `pause`
        seconds before each; their outcomes."""
        self.outcomes_so_far, self.done = [], 0
        self.pause, self.batch = pause, uuid.uuid4().hex[:8]
        pool = eventlet.GreenPool(concurrency)
        for outcome in pool.imap(self.book, range(count)):
            self.outcomes_so_far.append(outcome)
        return self.outcomes_so_far

    def book(self, n):
        try:
            return self._book(n)
        finally:
            self.done += 1  # in the order they finish (the outcomes come in the order begun)

    def _book(self, n):
        eventlet.sleep(self.pause)
        guest = self.guests[n % len(self.guests)]
        hotel_id, room_type = self.rng.choice(self.rooms)
        check_in = date.today() + timedelta(days=self.rng.randint(30, 60))
        stay = {"hotel_id": hotel_id, "room_type": room_type, "guests": 2, "check_in": check_in.isoformat(),
                "check_out": (check_in + timedelta(days=self.rng.randint(1, 3))).isoformat()}
        outcome = {"n": n, "guest": guest}
        held = answer(lambda: guest.post("/api/v1/reservations", json=stay,
                                         headers={"Idempotency-Key": f"hold-{self.batch}-{n}"}))
        outcome["hold"] = held.status_code if held is not None else None
        if outcome["hold"] != 201:
            return outcome
        outcome["id"] = held.json()["id"]
        if n % 10 == 9:
            outcome["abandoned"] = True
            return outcome
        number = DECLINED if n % 10 == 8 else VISA
        paid = answer(lambda: guest.post(f"/api/v1/reservations/{outcome['id']}/payment",
                                         json={"card": card(number)},
                                         headers={"Idempotency-Key": f"pay-{self.batch}-{n}"}))
        outcome["pay"] = paid.status_code if paid is not None else None
        return outcome


# -- what must hold afterwards ------------------------------------------------------------

def settled(stack, outcomes, timeout=HOLD_SECONDS + SWEEP_SECONDS + 60):
    """Wait until no reservation is held any more; {reservation id: final status}."""
    deadline = time.monotonic() + timeout
    statuses = {}
    for outcome in outcomes:
        if "id" not in outcome:
            continue
        while True:
            reply = answer(lambda: outcome["guest"].get(f"/api/v1/reservations/{outcome['id']}"))
            status = reply.json()["status"]
            if status != "held" or time.monotonic() > deadline:
                break
            eventlet.sleep(1)
        statuses[outcome["id"]] = status
    return statuses


def database(stack, service):
    return sqlite3.connect(stack.env[f"{service.upper()}_DB_URI"].removeprefix("sqlite:///"))


def check_invariants(stack, outcomes, figures):
    """Every booking confirmed or cleanly failed, one charge at most each, no hold
    past its expiry and one sweep, no night over capacity, the money adds up."""
    assert {o["hold"] for o in outcomes} <= {201, 409}  # held, or no room left: nothing unanswered
    assert [o["n"] for o in outcomes if "id" in o and "pay" not in o and not o.get("abandoned")] == []
    assert [o for o in outcomes if o.get("pay", 200) is None] == [], "a payment never got an answer"
    statuses = settled(stack, outcomes)
    assert set(statuses.values()) <= {"confirmed", "cancelled", "expired"}, Counter(statuses.values())
    for outcome in outcomes:
        if outcome.get("pay") == 200:  # paid: confirmed, or refunded for paying too late
            assert statuses[outcome["id"]] == "confirmed" or refunded(stack, outcome["id"]), outcome
        if outcome.get("pay") == 402 or outcome.get("abandoned"):
            assert statuses[outcome["id"]] in ("cancelled", "expired"), outcome

    bank = requests.Session()
    bank.headers["Authorization"] = "Bearer sk_test_booking"
    bank_url = stack.env["BANK_URL"]
    charges = {rid: [c for c in bank.get(f"{bank_url}/v1/charges", params={"reference": rid}, timeout=10)
                     .json()["data"] if c["status"] == "succeeded"] for rid in statuses}
    assert {rid: len(found) for rid, found in charges.items() if len(found) > 1} == {}
    with database(stack, "reservations") as db:
        confirmed_total = db.execute(
            "SELECT COALESCE(SUM(total_minor), 0) FROM reservations WHERE status = 'confirmed'").fetchone()[0]
        over_capacity = db.execute("SELECT COUNT(*) FROM room_nights WHERE held > capacity").fetchone()[0]
        lateness = [(rid, late) for rid, late in db.execute(
            "SELECT id, (julianday(updated_at) - julianday(expires_at)) * 86400 FROM reservations "
            "WHERE status = 'expired'")]
    assert over_capacity == 0
    assert [(rid, late) for rid, late in lateness if late > SWEEP_SECONDS + SWEEP_SLACK_SECONDS] == []
    balance = bank.get(f"{bank_url}/v1/balance", params={"currency": "EUR"}, timeout=10).json()
    assert balance["net"] == confirmed_total

    confirmed = sorted(rid for rid, status in statuses.items() if status == "confirmed")
    eventually(lambda: sent_once(stack, confirmed, figures), timeout=90)  # a dead sender's lease runs out first

    count = Counter(statuses.values())
    figures.update({
        "bookings": len(outcomes), "confirmed": count["confirmed"],
        "no room left": sum(o["hold"] == 409 for o in outcomes),
        "declined": sum(o.get("pay") == 402 for o in outcomes),
        "paid, then refunded for paying too late": sum(o.get("pay") == 200 for o in outcomes) - count["confirmed"],
        "never paid, expired": count["expired"], "nights over capacity": over_capacity,
        "bookings charged twice": 0, "bank net (minor units)": balance["net"],
        "confirmed totals (minor units)": confirmed_total,
        "latest expiry after its time (s)": round(max((late for _, late in lateness), default=0), 1),
        "confirmation and receipt e-mails, one each": len(confirmed),
    })
    return statuses


def refunded(stack, reservation_id):
    with database(stack, "reservations") as db:
        return db.execute("SELECT refunded FROM reservations WHERE id = ?", (reservation_id,)).fetchone()[0]


def sent_once(stack, confirmed, figures):
    """Each confirmed booking got one confirmation and one receipt,
    and the others none. A message sent again because its sender died half-way
    keeps its Message-ID: it is the same e-mail (mail clients show it once)."""
    confirmations, receipts, copies = Counter(), Counter(), {}
    for message in read_messages(stack.env["MAIL_DIR"]):
        copies[message["Message-ID"]] = copies.get(message["Message-ID"], 0) + 1
        if copies[message["Message-ID"]] > 1:
            continue
        # a confirmation's Message-ID is made of its reservation (its PDF may be missing:
        # one written during the broker outage goes without it)
        if message["Message-ID"].startswith("<confirmation-"):
            confirmations[message["Message-ID"].removeprefix("<confirmation-").split("@")[0]] += 1
        if message["Subject"].startswith("Your receipt"):
            receipts[message["Subject"].rsplit(" ", 1)[-1]] += 1
    mine = set(confirmed)
    assert {rid: n for rid, n in confirmations.items() if rid in mine} == dict.fromkeys(confirmed, 1)
    assert {rid: n for rid, n in receipts.items() if rid in mine} == dict.fromkeys(confirmed, 1)
    figures["e-mails delivered twice so far (same Message-ID)"] = sum(n - 1 for n in copies.values())


def wait_until_ready(stack, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{stack.url}/ready", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, stack.output[-20000:]
        eventlet.sleep(0.5)


# -- the tests ---------------------------------------------------------------------------

def test_two_instances_of_every_service_share_the_work_and_apply_nothing_twice(stack, figures):
    management = requests.Session()
    management.auth = ("guest", "guest")
    api = f"http://localhost:{FAULTS_AMQP_PORT + 10000}/api"

    def two_consumers_each():  # the management API's statistics are gathered every 5 s
        consumers = Counter(c["queue"]["name"] for c in management.get(f"{api}/consumers/%2F", timeout=10).json())
        rpc_services = [service for service in SERVICES if service != "gateway"]  # the gateway serves HTTP
        assert {service: consumers[f"rpc-{service}"] for service in rpc_services} == dict.fromkeys(rpc_services, 2)
    eventually(two_consumers_each, timeout=30)

    spy = Connection(stack.env["AMQP_URI"])
    expired_events = Queue(exchange=Exchange("reservations.events", type="topic", durable=True),
                           routing_key="reservation_expired", exclusive=True)(spy)
    expired_events.declare()
    guests = [Guest(stack.url, f"sharing-{n}") for n in range(4)]
    bookings = Bookings(guests, bookable_rooms(stack.url), seed=3)
    outcomes = bookings.make(40)
    statuses = check_invariants(stack, outcomes, figures)
    assert figures["e-mails delivered twice so far (same Message-ID)"] == 0  # nobody died: nothing sent again

    # the work was shared: every instance of the busy services answered some of it
    eventlet.sleep(6)  # the management API's statistics are gathered every 5 s
    delivered = Counter()
    for channel in management.get(f"{api}/channels", timeout=10).json():
        details = management.get(f"{api}/channels/{quote(channel['name'], safe='')}", timeout=10).json()
        for consumer in details.get("consumer_details", []):
            queue = consumer["queue"]["name"]
            delivered[(queue, channel["connection_details"]["peer_port"])] += details.get(
                "message_stats", {}).get("deliver_get", 0)
    for service in ("search", "reservations", "payments", "users"):
        shares = sorted(n for (queue, _), n in delivered.items() if queue == f"rpc-{service}")
        assert len(shares) == 2 and shares[0] > 0, (service, shares)
        figures[f"{service} calls per instance"] = shares

    # the timer ran in both instances, yet each hold expired once; each handler acted once
    expired = Counter()
    with spy:
        while (message := expired_events.get(no_ack=True)) is not None:
            expired[message.payload["reservation_id"]] += 1
    assert sorted(expired) == sorted(rid for rid, status in statuses.items() if status == "expired")
    assert set(expired.values()) <= {1}
    figures["holds expired once each"] = len(expired)


def test_bookings_survive_sigkill_of_payments_reservations_and_the_gateway(stack, figures):
    guests = [Guest(stack.url, f"killed-{n}") for n in range(10)]
    bookings = Bookings(guests, bookable_rooms(stack.url, city="Rome"), seed=11)
    rng = random.Random(5)
    # each kind three times, at random points of the run (by bookings done)
    victims = rng.sample([kind for kind in ("payments", "reservations", "gateway") for _ in range(3)], 9)
    moments = sorted(rng.sample(range(5, 85), len(victims)))
    kills = []

    def killer():
        for kind, moment in zip(victims, moments):
            while bookings.done < moment:
                eventlet.sleep(0.01)
            while True:  # an instance that is running (the other may still be restarting)
                victim = f"{kind}-{rng.choice((1, 2))}"
                pid = stack.pids()[victim]
                if alive(pid):
                    break
                eventlet.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            kills.append(victim)

    SENT_AGAIN.clear()
    started = time.monotonic()
    chaos = eventlet.spawn(killer)
    try:
        outcomes = bookings.make(100)
    finally:
        chaos.kill()
    elapsed = time.monotonic() - started
    eventually(lambda: [victim for victim in set(kills) if not alive(stack.pids()[victim])] == [], timeout=90)
    wait_until_ready(stack)
    check_invariants(stack, outcomes, figures)
    assert len(kills) == len(victims)
    figures["requests sent again"] = len(SENT_AGAIN)
    figures["SIGKILLs"] = dict(Counter(kill.rsplit("-", 1)[0] for kill in kills))
    figures["seconds for 100 bookings under kills"] = round(elapsed, 1)


def test_the_broker_stopped_for_5_seconds_under_load_loses_nothing(stack, faults_broker, figures):
    guests = [Guest(stack.url, f"outage-{n}") for n in range(4)]
    bookings = Bookings(guests, bookable_rooms(stack.url, city="Madrid"), seed=17)
    before = bookings.make(20, concurrency=4)
    confirmed_before = settled(stack, [o for o in before if o.get("pay") == 200])
    pids = stack.pids()
    gateway_timeout = float(stack.env.get("RPC_TIMEOUT", 5))
    searches, stop_searching = [], []

    def search(n):  # steady load: four guests searching, one search after another, timed
        for day in itertools.count(30 + 300 * n):  # new dates each time: the gateway's cache cannot answer
            if stop_searching:
                break
            check_in = date.today() + timedelta(days=day)
            started = time.monotonic()
            try:
                status = requests.get(f"{stack.url}/api/v1/hotels", timeout=2 * gateway_timeout + 5, params={
                    "city": "Madrid", "check_in": check_in.isoformat(),
                    "check_out": (check_in + timedelta(days=1)).isoformat()}).status_code
            except requests.RequestException:
                status = None
            searches.append((started, time.monotonic() - started, status))
            eventlet.sleep(0.1)

    SENT_AGAIN.clear()
    searching = [eventlet.spawn(search, n) for n in range(4)]
    booking = eventlet.spawn(bookings.make, 40, concurrency=4, pause=0.5)
    eventlet.sleep(3)
    faults_broker.ctl("stop_app")
    outage_start = time.monotonic()
    eventlet.sleep(5)
    restarting = time.monotonic()
    faults_broker.ctl("start_app")
    outage_end = time.monotonic()
    during = booking.wait()
    eventlet.sleep(5)
    stop_searching.append(True)
    [searcher.wait() for searcher in searching]

    assert stack.pids() == pids, "a service was restarted"
    in_outage = [(started, latency, status) for started, latency, status in searches
                 if outage_start <= started < restarting]
    # each got 503, or an answer once the broker was back, and within the gateway's timeout
    assert in_outage and 503 in {status for _, _, status in in_outage}, in_outage
    assert [(started, latency, status) for started, latency, status in in_outage
            if not (status == 503 or (status == 200 and started + latency > restarting))] == []
    assert max(latency for _, latency, _ in in_outage) < gateway_timeout + 2, in_outage
    after = [status for started, _, status in searches if started > outage_end + gateway_timeout + 2]
    assert after and set(after) == {200}, searches
    still = settled(stack, [o for o in before if o.get("pay") == 200])
    assert still == confirmed_before and set(still.values()) == {"confirmed"}
    check_invariants(stack, during, figures)
    figures["searches during the outage"] = dict(Counter(status for _, _, status in in_outage))
    figures["slowest answer during the outage (s)"] = round(max(latency for _, latency, _ in in_outage), 2)
    figures["seconds from start_app to the first search answered"] = round(min(
        started + latency for started, latency, status in searches
        if started + latency > outage_end and status == 200) - outage_end, 1)
    figures["requests sent again"] = len(SENT_AGAIN)
