"""No event is lost when a process dies between its commit and the publish.

The stack runs as `make run` runs it, with BOOKING_DIE_AFTER_COMMIT naming every
event-making step of the saga: the process that commits one of these events kills
itself (SIGKILL) right after the commit, before anything is published, once per
step (booking/kit/faults.py). The supervisor restarts it; its outbox relay
publishes what it had committed, and the saga completes: the welcome, the
confirmation and the receipt e-mails, search's availability, the refund. On SQLite
and on PostgreSQL.
"""
import re
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from booking.devstack.mailsink import read_messages
from booking.search.seed import restricted
from tests import eventually
from tests.e2e.bookings import DECLINED, VISA, Guest, answer, card, database
from tests.e2e.stack import Stack, stack_environment

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STEPS = ("user_registered", "reservation_held", "payment_succeeded", "reservation_confirmed",
         "reservation_cancelled", "payment_refunded", "payment_failed", "reservation_expired")
DATABASES = ("search", "users", "auth", "reservations", "payments")
HOLD_SECONDS = 20
SAGA_SECONDS = 120  # restarts, RPC timeouts and retries included


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request, rabbit_config, tmp_path):
    env = stack_environment(rabbit_config["AMQP_URI"], tmp_path, HOLD_SECONDS=HOLD_SECONDS, METRICS_PORT=0,
                            BOOKING_DIE_AFTER_COMMIT=",".join(STEPS), BOOKING_FAULTS_DIR=tmp_path)
    config = "config.yaml"
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        suffix = tmp_path.name[-8:].replace("-", "_").lower()
        for service in DATABASES:
            env[f"{service.upper()}_DB_URI"] = server.create_database(f"outbox_{service}_{suffix}")
        config = "config/postgres.yaml"
    stack = Stack(env, logs=tmp_path / "log", config=config)
    try:
        stack.wait_for(r"Booking is ready", timeout=300)
        yield stack
    finally:
        assert stack.stop(), stack.output[-20000:]


def mail(stack, subject_start, to):
    return [m for m in read_messages(stack.env["MAIL_DIR"])
            if m["Subject"].startswith(subject_start) and m["To"] == to]


def step(stack, check, timeout=SAGA_SECONDS):
    """`eventually(check)`; if the saga never gets there, what may say why: each
    service's outbox (what was recorded, claimed by which relay, published when), the
    e-mails users kept, the supervisor's last words and users' last log lines."""
    try:
        eventually(check, timeout=timeout)
    except AssertionError as stuck:
        outboxes = {}
        for service in ("users", "reservations", "payments"):
            with database(stack, service) as db:
                outboxes[service] = [tuple(str(value) for value in row) for row in db.execute(text(
                    "SELECT event_type, occurred_at, claimed_by, claimed_at, published_at FROM outbox ORDER BY id"))]
        with database(stack, "users") as db:
            kept = [tuple(str(value) for value in row) for row in db.execute(text(
                "SELECT key, claimed_at, sent_at FROM sent_emails"))]
        users_log = stack.logs / "users.log"
        last_lines = users_log.read_text(errors="replace").splitlines()[-30:] if users_log.exists() else []
        raise AssertionError(f"{stuck}\noutboxes: {outboxes}\ne-mails kept: {kept}\n"
                             f"supervisor: {stack.output[-5000:]}\nusers' last log lines: {last_lines}") from None


def scalar(stack, service, sql, **parameters):
    with database(stack, service) as db:
        return db.execute(text(sql), parameters).scalar()


# a demo hotel whose calendar takes an arrival any day (booking/search/seed.py): hotel 3's,
# restricted, takes none on Sundays, and a Sunday 40 days ahead once failed a run
HOTEL_ID = next(hotel_id for hotel_id in range(1, 10) if not restricted(hotel_id))


def hold(guest, key, days_ahead):
    check_in = date.today() + timedelta(days=days_ahead)
    stay = {"hotel_id": HOTEL_ID, "room_type": "double", "guests": 2, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=2)).isoformat()}
    held = answer(lambda: guest.post("/api/v1/reservations", json=stay, headers={"Idempotency-Key": key}),
                  done={201})
    return held.json()["id"]


def pay(guest, reservation_id, number, key, done):
    return answer(lambda: guest.post(f"/api/v1/reservations/{reservation_id}/payment", json={"card": card(number)},
                                     headers={"Idempotency-Key": key}), done=done)


def status_of(guest, reservation_id):
    """The reservation's status, asked again while its service restarts."""
    return answer(lambda: guest.get(f"/api/v1/reservations/{reservation_id}")).json()["status"]


def test_every_event_committed_by_a_process_killed_before_publishing_it_completes_the_saga(stack, figures):
    started = time.monotonic()
    # registration: users dies after committing the account and its user_registered
    guest = Guest(stack.url, "outbox-ada")
    step(stack, lambda: len(mail(stack, "Welcome", "outbox-ada@example.com")) == 1)

    # a hold never paid (reservations dies), first, so that the sweep expires it while
    # the rest runs (reservations dies on reservation_expired)
    abandoned = hold(guest, "outbox-hold-3", 50)

    # a hold, paid (payments dies), confirmed (reservations dies on the event)
    booked = hold(guest, "outbox-hold-1", 40)
    step(stack, lambda: scalar(stack, "search", "SELECT active FROM held_stays WHERE reservation_id = :id",
                               id=booked) in (1, True))
    pay(guest, booked, VISA, "outbox-pay-1", done={200})
    step(stack, lambda: status_of(guest, booked) == "confirmed")
    step(stack, lambda: len(mail(stack, "Booking confirmed", "outbox-ada@example.com")) >= 1)
    step(stack, lambda: len(mail(stack, "Your receipt", "outbox-ada@example.com")) >= 1)

    # cancelled (reservations dies), refunded (payments dies on the event)
    answer(lambda: guest.post(f"/api/v1/reservations/{booked}/cancel"), done={200})
    step(stack, lambda: scalar(stack, "reservations", "SELECT refunded FROM reservations WHERE id = :id",
                               id=booked) in (1, True))
    step(stack, lambda: scalar(stack, "search", "SELECT active FROM held_stays WHERE reservation_id = :id",
                               id=booked) in (0, False))

    # a declined card (payments dies on payment_failed): the hold stays, noting why, for another card
    declined = hold(guest, "outbox-hold-2", 45)
    pay(guest, declined, DECLINED, "outbox-pay-2", done={402})
    step(stack, lambda: scalar(stack, "reservations", "SELECT last_payment_failure FROM reservations WHERE id = :id",
                               id=declined) == "card_declined")
    assert status_of(guest, declined) == "held"

    # the hold never paid expired, and search's availability followed
    step(stack, lambda: status_of(guest, abandoned) == "expired",
         timeout=HOLD_SECONDS + SAGA_SECONDS)
    step(stack, lambda: scalar(stack, "search", "SELECT active FROM held_stays WHERE reservation_id = :id",
                               id=abandoned) in (0, False))

    # every step killed its process once, and each was restarted
    died = re.findall(r"fault injection: dying after the commit of (\w+)", stack.output)
    assert sorted(died) == sorted(STEPS), stack.output[-20000:]
    assert len(re.findall(r"exited with code -9; restarting", stack.output)) == len(STEPS)
    # nothing twice: one welcome, one confirmation, one receipt (the same Message-ID if sent again)
    for subject in ("Welcome", "Booking confirmed", "Your receipt"):
        assert len({m["Message-ID"] for m in mail(stack, subject, "outbox-ada@example.com")}) == 1, subject
    assert status_of(guest, booked) == "cancelled"
    waits = [float(seconds) for seconds in re.findall(r"the oldest ([\d.]+) s after it was recorded", stack.output)]
    figures["steps killed right after their commit"] = len(died)
    figures["longest from commit to publish (s)"] = max(waits, default=0)
    figures["seconds for the whole saga"] = round(time.monotonic() - started, 1)
