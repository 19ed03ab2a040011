"""Guests booking through a running stack (tests/e2e/stack.py) as a client should,
and what must hold afterwards, whatever was killed or stopped meanwhile.

A request that got no answer, or a 503, is sent again with the same Idempotency-Key.
"""
import itertools
import random
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import eventlet
import requests
from kombu import Connection
from sqlalchemy import bindparam, create_engine, text

from booking.devstack.mailsink import read_messages
from booking.kit import deadletters
from booking.reservations.service import SWEEP_SECONDS
from booking.search.seed import restricted
from tests import eventually

VISA, DECLINED = "4242424242424242", "4000000000000002"
# an answer that says "not now": the same request is sent again
TRY_AGAIN = {502, 503, 504}
ANSWER_DEADLINE_SECONDS = 120
# a sweep may start just before a hold expires, and settling takes a moment: a hold
# expires at most this long after its time (the product's sweep, every 30 s, and 10 s;
# the stacks here sweep every 5 s)
LATEST_EXPIRY_SECONDS = SWEEP_SECONDS + 10


class Guest(requests.Session):
    """A registered, logged-in guest of `base`."""

    def __init__(self, base, name):
        super().__init__()
        self.base = base
        account = {"email": f"{name}@example.com", "password": "fault tolerant guest 2026", "full_name": name}
        answer(lambda: self.post("/api/v1/users", json=account), done={201, 409})
        tokens = answer(lambda: self.post("/api/v1/auth/login", json={k: account[k] for k in ("email", "password")}))
        assert tokens.status_code == 200, f"{name} could not log in: {tokens.status_code} {tokens.text}"
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
    """(hotel_id, room type code) of the room types for two of `hotels` hotels of `city`
    whose calendar sells any stay (`restricted` ones close days or ask for longer stays)."""
    found = requests.get(f"{base}/api/v1/hotels", params={"city": city, "per_page": hotels}, timeout=30).json()
    rooms = []
    for hotel in (hotel for hotel in found["items"] if not restricted(hotel["id"])):
        detail = requests.get(f"{base}/api/v1/hotels/{hotel['id']}", params={"guests": 2}, timeout=30).json()
        rooms += [(hotel["id"], room["code"]) for room in detail["room_types"]]
    return rooms


class Bookings:
    """Bookings made by `guests` at random among `rooms`: a tenth never paid, a tenth
    only tried with a declined card, a tenth tried with a declined card and then paid
    with another (the hold waits for it), the others paid with a good one. The holds
    left to expire are all begun in the first half, so that they expire while the
    second half runs rather than after it."""

    def __init__(self, guests, rooms, seed):
        self.guests, self.rooms = guests, rooms
        self.rng = random.Random(seed)
        self.outcomes_so_far, self.done, self.count = [], 0, 0

    def make(self, count, concurrency=10, pause=0.0):
        """Make `count` bookings, `concurrency` at a time, each guest pausing `pause`
        seconds before each; their outcomes."""
        self.outcomes_so_far, self.done, self.count = [], 0, count
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
        if outcome["hold"] not in (201, 409, None):
            outcome["answer"] = held.text
        if outcome["hold"] != 201:
            return outcome
        outcome["id"] = held.json()["id"]
        kind = self.kind(n)
        if kind == "abandoned":
            outcome["abandoned"] = True
            return outcome
        number = VISA if kind == "paid" else DECLINED
        outcome["pay"] = self._pay(guest, outcome, number, f"pay-{self.batch}-{n}")
        if kind == "declined, then paid" and outcome["pay"] == 402:  # another card, for the same hold
            outcome["pay again"] = self._pay(guest, outcome, VISA, f"pay-again-{self.batch}-{n}")
        return outcome

    def kind(self, n):
        """"paid", "declined, then paid", "declined" or "abandoned": in the first half,
        of every ten, two declined and two abandoned; in all, the shares above."""
        if n < self.count // 2 and n % 5 in (3, 4):
            return "declined" if n % 5 == 3 else "abandoned"
        return "declined, then paid" if n % 10 == 7 else "paid"

    @staticmethod
    def _pay(guest, outcome, number, key):
        paid = answer(lambda: guest.post(f"/api/v1/reservations/{outcome['id']}/payment",
                                         json={"card": card(number)}, headers={"Idempotency-Key": key}))
        status = paid.status_code if paid is not None else None
        if status not in (200, 402, None):
            outcome["answer"] = paid.text
        return status


def settled(stack, outcomes):
    """Wait until no reservation is held any more; {reservation id: final status}."""
    deadline = time.monotonic() + float(stack.env["HOLD_SECONDS"]) + SWEEP_SECONDS + 60
    statuses = {}
    for outcome in outcomes:
        if "id" not in outcome:
            continue
        while True:
            reply = answer(lambda outcome=outcome: outcome["guest"].get(f"/api/v1/reservations/{outcome['id']}"))
            status = reply.json()["status"]
            if status != "held" or time.monotonic() > deadline:
                break
            eventlet.sleep(1)
        statuses[outcome["id"]] = status
    return statuses


@contextmanager
def database(stack, service):
    """A connection to a service's database (SQLite or PostgreSQL)."""
    engine = create_engine(stack.env[f"{service.upper()}_DB_URI"])
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def moment(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def check_invariants(stack, outcomes, figures):
    """Every booking confirmed or cleanly failed, one charge at most each, no hold
    past its expiry and one sweep, no night over capacity, the money adds up."""
    errors = "\n".join(line for line in stack.lines if "ERROR" in line or "Error" in line)[-20000:]
    # held, or no room left: nothing unanswered
    assert [o for o in outcomes if o["hold"] not in (201, 409)] == [], (shown(outcomes, "hold"), errors)
    assert [o["n"] for o in outcomes if "id" in o and "pay" not in o and not o.get("abandoned")] == []
    assert [o for o in outcomes if o.get("pay", 200) is None] == [], "a payment never got an answer"
    # paid or declined: a guest is never left wondering whether the money went
    assert [o for o in outcomes if o.get("pay", 200) not in (200, 402)] == [], (shown(outcomes, "pay"), errors)
    statuses = settled(stack, outcomes)
    assert set(statuses.values()) <= {"confirmed", "expired"}, Counter(statuses.values())
    assert [o for o in outcomes if o.get("pay again", 200) not in (200, 402)] == [], (shown(outcomes, "pay again"),
                                                                                      errors)
    for outcome in outcomes:
        paid = 200 in (outcome.get("pay"), outcome.get("pay again"))
        if paid:  # confirmed, or refunded for paying too late
            assert statuses[outcome["id"]] == "confirmed" or refunded(stack, outcome["id"]), outcome
        elif outcome.get("pay") == 402 or outcome.get("abandoned"):  # a refused card leaves the hold to expire
            assert statuses[outcome["id"]] == "expired", outcome

    bank = requests.Session()
    bank.headers["Authorization"] = "Bearer sk_test_booking"
    bank_url = stack.env["BANK_URL"]
    charges = {rid: [c for c in bank.get(f"{bank_url}/v1/charges", params={"reference": rid}, timeout=10)
                     .json()["data"] if c["status"] == "succeeded"] for rid in statuses}
    assert {rid: len(found) for rid, found in charges.items() if len(found) > 1} == {}
    with database(stack, "reservations") as db:
        confirmed_total = db.execute(text(
            "SELECT COALESCE(SUM(total_minor), 0) FROM reservations WHERE status = 'confirmed'")).scalar()
        over_capacity = db.execute(text("SELECT COUNT(*) FROM room_nights WHERE held > capacity")).scalar()
        lateness = [(rid, (moment(updated) - moment(expires)).total_seconds()) for rid, updated, expires in
                    db.execute(text("SELECT id, updated_at, expires_at FROM reservations WHERE status = 'expired'"))]
    assert over_capacity == 0
    assert [(rid, late) for rid, late in lateness if late > LATEST_EXPIRY_SECONDS] == []
    balance = bank.get(f"{bank_url}/v1/balance", params={"currency": "EUR"}, timeout=10).json()
    assert balance["net"] == confirmed_total

    confirmed = sorted(rid for rid, status in statuses.items() if status == "confirmed")
    try:
        # a dead sender's lease runs out first; a delivery a consumer took and never worked on
        # comes back after the broker's consumer_timeout (60 s, checked about once a minute)
        eventually(lambda: sent_once(stack, confirmed, figures), timeout=180)
    except AssertionError as missing:
        raise AssertionError(f"{missing}\n{mail_diagnosis(stack)}") from None

    count = Counter(statuses.values())
    figures.update({
        "bookings": len(outcomes), "confirmed": count["confirmed"],
        "no room left": sum(o["hold"] == 409 for o in outcomes),
        "declined": sum(o.get("pay") == 402 for o in outcomes),
        "declined, then paid with another card": sum(o.get("pay again") == 200 for o in outcomes),
        "paid, then refunded for paying too late":
            sum(200 in (o.get("pay"), o.get("pay again")) for o in outcomes) - count["confirmed"],
        "never paid, expired": count["expired"], "nights over capacity": over_capacity,
        "bookings charged twice": 0, "bank net (minor units)": balance["net"],
        "confirmed totals (minor units)": confirmed_total,
        "latest expiry after its time (s)": round(max((late for _, late in lateness), default=0), 1),
        "confirmation and receipt e-mails, one each": len(confirmed),
    })
    return statuses


def shown(outcomes, step):
    """The outcomes whose `step` got an unexpected answer, as a failed assertion shows them."""
    expected = {"hold": (201, 409), "pay": (200, 402), "pay again": (200, 402)}[step]
    return [{key: value for key, value in o.items() if key != "guest"} for o in outcomes
            if step in o and o[step] not in expected]


def refunded(stack, reservation_id):
    with database(stack, "reservations") as db:
        return db.execute(text("SELECT refunded FROM reservations WHERE id = :id"), {"id": reservation_id}).scalar()


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
    sent = {rid: n for rid, n in confirmations.items() if rid in mine}
    assert sent == dict.fromkeys(confirmed, 1), {"without a confirmation": sorted(mine - set(sent)),
                                                  "more than one": {rid: n for rid, n in sent.items() if n > 1}}
    assert {rid: n for rid, n in receipts.items() if rid in mine} == dict.fromkeys(confirmed, 1)
    figures["e-mails delivered twice so far (same Message-ID)"] = sum(n - 1 for n in copies.values())


def mail_diagnosis(stack):
    """What may say why e-mails are missing: events parked as dead letters, and the
    last lines the users instances logged."""
    with Connection(stack.env["AMQP_URI"]) as connection:
        parked = deadletters.waiting(connection, ("users", "payments", "reservations"))
        with connection.channel() as channel:  # the confirmations' queue: waiting, or taken and never acked?
            waiting = channel.queue_declare("evt-reservations-reservation_confirmed--users.send_confirmation",
                                            passive=True)
    with database(stack, "users") as db:
        rows = db.execute(text("SELECT key, sent_at FROM sent_emails WHERE kind = 'confirmation'")).all()
        handled = {key for key, _ in rows}
        kept = (len(rows), sum(sent_at is not None for _, sent_at in rows))
    with database(stack, "reservations") as db:
        unpublished = db.execute(text("SELECT event_type, COUNT(*) FROM outbox WHERE published_at IS NULL "
                                      "GROUP BY event_type")).all()
        # the confirmations users never handled: when each was recorded, by which relay
        # it was claimed, and when that relay had the broker's confirm of it
        confirmed = db.execute(text("SELECT id FROM reservations WHERE status = 'confirmed'")).scalars()
        never_handled = sorted(rid for rid in confirmed if f"confirmation:{rid}" not in handled)
        their_events = [tuple(str(value) for value in row) for row in db.execute(text(
            "SELECT aggregate, occurred_at, claimed_by, claimed_at, published_at FROM outbox "
            "WHERE event_type = 'reservation_confirmed' AND aggregate IN :ids ORDER BY occurred_at").bindparams(
                bindparam("ids", expanding=True)), {"ids": never_handled or ["-"]})]
    logs = {path.name: path.read_text(errors="replace").splitlines()[-15:]
            for path in sorted(stack.logs.glob("users-*.log"))}
    busy = {}
    users = {name: port for name, port in stack.metrics_ports().items() if name.startswith("users")}
    for instance, port in users.items():
        try:
            metrics = requests.get(f"http://localhost:{port}/metrics", timeout=5).text
            busy[instance] = [line for line in metrics.splitlines() if line.startswith("booking_workers_busy")]
        except requests.RequestException as error:
            busy[instance] = repr(error)
    return (f"dead letters waiting: {parked}\nconfirmations' queue: {waiting.message_count} ready, "
            f"{waiting.consumer_count} consumers\nreservations' events not published: {dict(unpublished)}\n"
            f"confirmation e-mails kept, sent: {tuple(kept)}\n"
            f"their events (reservation, recorded, claimed by, claimed at, confirmed by the broker at): "
            f"{their_events}\nworkers busy: {busy}\n"
            f"last lines of the users logs: {logs}")


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


class SteadySearches:
    """`searchers` guests searching `city`, one search after another, each timed:
    `searches` holds (began, seconds, status or None) until `stop()`."""

    def __init__(self, base, city, searchers, timeout):
        self.base, self.city, self.timeout = base, city, timeout
        self.searches, self.stopping = [], False
        self.threads = [eventlet.spawn(self._search, n) for n in range(searchers)]

    def _search(self, n):
        for day in itertools.count(30 + 300 * n):  # new dates each time: the gateway's cache cannot answer
            if self.stopping:
                break
            check_in = date.today() + timedelta(days=day)
            began = time.monotonic()
            try:
                status = requests.get(f"{self.base}/api/v1/hotels", timeout=self.timeout, params={
                    "city": self.city, "check_in": check_in.isoformat(),
                    "check_out": (check_in + timedelta(days=1)).isoformat()}).status_code
            except requests.RequestException:
                status = None
            self.searches.append((began, time.monotonic() - began, status))
            eventlet.sleep(0.1)

    def stop(self, not_before=0.0):
        """Stop searching, though not before the monotonic time `not_before` (a test's
        window must see searches however quickly its bookings ended); the searches."""
        eventlet.sleep(max(0.0, not_before - time.monotonic()))
        self.stopping = True
        for thread in self.threads:
            thread.wait()
        return self.searches
