"""The booking invariants under any sequence of holds, payments, cancellations and
replays, as hypothesis draws them, against every service running over HTTP (real
containers on the real broker, the sandbox bank, on SQLite and on PostgreSQL).

The services start once per test, and hypothesis runs many examples on them: each
example books as a guest of its own, in a window of dates that examples take in
turn, counts the rooms and the bank's money from where it found them, and cancels
what it booked when it ends, so that an example replayed finds what it found."""
import itertools
import uuid
from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.kit.config import PROJECT_ROOT
from booking.kit.database import create_db_engine
from booking.kit.schemas import to_minor
from booking.reservations.models import RoomNight
from tests import eventually
from tests.conftest import small_catalogue
from tests.integration.test_accounts import Client, login, register
from tests.integration.test_booking_saga import (  # noqa: F401 (containers, saga_config: fixtures)
    DECLINED,
    VISA,
    bank,
    card,
    containers,
    saga_config,
)

# hypothesis keeps its caches with the tests' other files, not at the checkout's root
set_hypothesis_home_dir(PROJECT_ROOT / "var" / "test" / "hypothesis")

ROOMS = sorted(((hotel.id, room.code, room.max_guests, room.room_count)
                for hotel in small_catalogue() for room in hotel.room_types), key=lambda room: room[3])
# half the holds go for the scarcest room type (the Grand Hôtel's 2 suites), so that rooms run out
A_ROOM = st.one_of(st.just(ROOMS[0]), st.sampled_from(ROOMS))
# each example's stays fall in a window: 3 possible check-ins, up to 3 nights
WINDOW_DAYS, WINDOWS = 5, 40
# No shrinking: every step is real requests, and shrinking a failure would outlast the
# test's timeout; a failure prints its steps as they ran.
SETTINGS = settings(max_examples=15, stateful_step_count=20, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])


def minor(money):
    return to_minor(money["amount"])


class BookingMachine(RuleBasedStateMachine):
    """A guest's bookings as a model: what each reservation must be, and what the bank
    and the room nights must then hold."""

    web_url = bank = nights_of = None  # set by the test, for the stack it started
    examples = itertools.count()
    steps = Counter()

    reservations = Bundle("reservations")

    def __init__(self):
        super().__init__()
        example = next(self.examples)
        self.first_night = date.today() + timedelta(days=30 + WINDOW_DAYS * (example % WINDOWS))
        self.window = {self.first_night + timedelta(days=day) for day in range(WINDOW_DAYS)}
        self.held_before = self.held_in_window()
        self.guest = Client(self.web_url)
        email = f"guest-{example}-{uuid.uuid4().hex[:8]}@example.com"
        register(self.guest, email=email)
        self.guest.headers["Authorization"] = f"Bearer {login(self.guest, email=email)['access_token']}"
        self.model = {}  # reservation id -> {"hold": request, "status", "paid", "total"}
        self.answered = []  # (request, first answer) that a replay must give again
        self.net_before = self.bank.balance()["net"]
        self.steps["examples"] += 1

    def teardown(self):
        """Give back what this example booked (refunded if paid)."""
        try:
            for reservation_id, booked in self.model.items():
                if booked["status"] != "cancelled":
                    assert self.guest.post(f"/api/v1/reservations/{reservation_id}/cancel").status_code == 200
                    booked["status"] = "cancelled"
                    self.settle(reservation_id)
        finally:
            self.guest.close()

    # -- what a guest does ---------------------------------------------------------------------------

    @rule(target=reservations, room=A_ROOM, day=st.integers(0, 2), nights=st.integers(1, 3),
          party=st.integers(0, 5))
    def hold(self, room, day, nights, party):
        hotel_id, code, max_guests, capacity = room
        guests = max_guests + 1 if party == 0 else min(party, max_guests)  # one in six does not fit
        check_in = self.first_night + timedelta(days=day)
        request = ("POST", "/api/v1/reservations", {
            "hotel_id": hotel_id, "room_type": code, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=nights)).isoformat(), "guests": guests}, uuid.uuid4().hex)
        answer = self.send(request)
        self.steps["holds"] += 1
        if guests > max_guests:  # no room of that type sleeps them
            assert (answer.status_code, answer.json()["error"]) == (404, "ROOM_TYPE_NOT_FOUND"), answer.text
            return multiple()
        if any(self.held_before[(hotel_id, code, night)] + self.taken_nights()[(hotel_id, code, night)] >= capacity
               for night in self.stay(request)):
            assert (answer.status_code, answer.json()["error"]) == (409, "NO_ROOM_LEFT"), answer.text
            self.steps["no room left"] += 1
            return multiple()
        assert answer.status_code == 201, answer.text
        reservation = answer.json()
        assert reservation["status"] == "held" and reservation["nights"] == nights
        self.model[reservation["id"]] = {"hold": request, "status": "held", "paid": False,
                                         "total": minor(reservation["total"])}
        self.answered.append((request, answer))
        return reservation["id"]

    @rule(reservation_id=reservations, good_card=st.booleans())
    def pay(self, reservation_id, good_card):
        booked = self.model[reservation_id]
        request = ("POST", f"/api/v1/reservations/{reservation_id}/payment",
                   {"card": card(VISA if good_card else DECLINED)}, uuid.uuid4().hex)
        answer = self.send(request)
        self.steps["payments"] += 1
        if booked["status"] != "held":
            assert (answer.status_code, answer.json()["error"]) == (409, "NOT_PAYABLE"), answer.text
            return
        if good_card:
            assert answer.status_code == 200 and answer.json()["status"] == "succeeded", answer.text
            assert minor(answer.json()["amount"]) == booked["total"]
            booked.update(status="confirmed", paid=True)
            self.steps["confirmed"] += 1
        else:
            assert (answer.status_code, answer.json()["error"]) == (402, "PAYMENT_DECLINED"), answer.text
            # the hold stays as it was, for another card, until it expires
            self.steps["declined"] += 1
        self.answered.append((request, answer))
        self.settle(reservation_id)

    @rule(reservation_id=reservations)
    def cancel(self, reservation_id):
        answer = self.guest.post(f"/api/v1/reservations/{reservation_id}/cancel")
        self.steps["cancellations"] += 1
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled", answer.text
        self.model[reservation_id]["status"] = "cancelled"  # refunded if it was paid
        self.settle(reservation_id)

    @precondition(lambda self: self.answered)
    @rule(data=st.data())
    def replay(self, data):
        """The same request with the same Idempotency-Key: the first answer (the state of
        what it made may have moved on since), and nothing more happens."""
        (method, path, body, key), first = data.draw(st.sampled_from(self.answered))
        charges_before = self.all_charges()
        again = self.send((method, path, body, key))
        self.steps["replays"] += 1
        assert again.status_code == first.status_code, again.text
        if first.status_code == 402:
            assert again.json() == first.json()
        else:
            moving = {"status", "refunded", "payment_id", "status_reason", "refund", "kept", "last_payment_failure"}
            assert {k: v for k, v in again.json().items() if k not in moving} == \
                   {k: v for k, v in first.json().items() if k not in moving}
        assert len(self.guest.get("/api/v1/reservations").json()["items"]) == len(self.model)
        assert self.all_charges() == charges_before

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def reuse_a_key_for_another_request(self, data):
        """The same Idempotency-Key with another body is refused, and changes nothing."""
        method, path, body, key = data.draw(st.sampled_from([booked["hold"] for booked in self.model.values()]))
        answer = self.send((method, path, {**body, "guests": body["guests"] % 2 + 1}, key))
        self.steps["reused keys"] += 1
        assert (answer.status_code, answer.json()["error"]) == (422, "IDEMPOTENCY_KEY_REUSED"), answer.text

    # -- what must hold after every step ------------------------------------------------------------

    @invariant()
    def the_guest_sees_what_the_model_says(self):
        seen = {r["id"]: (r["status"], r["refunded"]) for r in self.guest.get("/api/v1/reservations").json()["items"]}
        assert seen == {reservation_id: (booked["status"], booked["status"] == "cancelled" and booked["paid"])
                        for reservation_id, booked in self.model.items()}

    @invariant()
    def no_night_is_over_capacity_and_each_live_stay_holds_one_room_a_night(self):
        assert all(0 <= held <= capacity for held, capacity in self.nights_of().values())
        now, before = self.held_in_window(), self.held_before
        more = {key: now[key] - before[key] for key in now.keys() | before.keys() if now[key] != before[key]}
        assert more == {key: rooms for key, rooms in self.taken_nights().items() if rooms}

    @invariant()
    def every_confirmed_reservation_has_exactly_one_successful_charge_and_the_bank_balances(self):
        owed = 0
        for reservation_id, booked in self.model.items():
            charges = self.bank.charges(reservation_id)
            succeeded = [c for c in charges if c["status"] == "succeeded"]
            assert len(succeeded) == (1 if booked["paid"] else 0), charges
            if booked["status"] == "confirmed":
                assert succeeded[0]["refunded_amount"] == 0 and succeeded[0]["amount"] == booked["total"]
                owed += booked["total"]
            elif booked["paid"]:
                assert succeeded[0]["refunded_amount"] == succeeded[0]["amount"]
        # what this guest's bookings owe is what the bank gained since the example began
        assert self.bank.balance()["net"] - self.net_before == owed

    # -- helpers ----------------------------------------------------------------------------------

    def send(self, request):
        method, path, body, key = request
        return self.guest.request(method, path, json=body, headers={"Idempotency-Key": key})

    @staticmethod
    def stay(request):
        body = request[2]
        check_in, check_out = date.fromisoformat(body["check_in"]), date.fromisoformat(body["check_out"])
        return [check_in + timedelta(days=n) for n in range((check_out - check_in).days)]

    def taken_nights(self):
        """(hotel, room type, night) -> rooms the model's live reservations take."""
        taken = Counter()
        for booked in self.model.values():
            if booked["status"] in ("held", "confirmed"):
                body = booked["hold"][2]
                taken.update((body["hotel_id"], body["room_type"], night) for night in self.stay(booked["hold"]))
        return taken

    def held_in_window(self):
        return Counter({key: held for key, (held, _) in self.nights_of().items() if key[2] in self.window})

    def all_charges(self):
        return {reservation_id: self.bank.charges(reservation_id) for reservation_id in self.model}

    def settle(self, reservation_id):
        """Wait for the saga's events: the guest's reservation as the model says, refunded if paid
        and cancelled."""
        booked = self.model[reservation_id]

        def settled():
            reservation = self.guest.get(f"/api/v1/reservations/{reservation_id}").json()
            assert reservation["status"] == booked["status"]
            assert reservation["refunded"] == (booked["status"] == "cancelled" and booked["paid"])
        eventually(settled)


def test_booking_invariants_hold_whatever_guests_do(containers, saga_config, bank, figures):  # noqa: F811
    engine = create_db_engine(saga_config["DB_URIS"]["reservations"])

    def nights_of():
        with Session(engine) as session:
            return {(n.hotel_id, n.room_type, n.night): (n.held, n.capacity)
                    for n in session.scalars(select(RoomNight))}

    BookingMachine.web_url = f"http://{saga_config['WEB_SERVER_ADDRESS']}"
    BookingMachine.bank, BookingMachine.nights_of = bank, staticmethod(nights_of)
    BookingMachine.steps = Counter()
    try:
        run_state_machine_as_test(BookingMachine, settings=SETTINGS)
    finally:
        engine.dispose()
        steps = BookingMachine.steps
        figures["steps"] = sum(steps[rule] for rule in ("holds", "payments", "cancellations", "replays", "reused keys"))
        figures.update(sorted(steps.items()))
