"""ReservationsService with worker_factory: its database a throwaway SQLite file, its
caller a stand-in for the verified token, `search`, `payments`, `users`, `reports` and
`dispatch` mocks."""
import base64
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import nameko_sqlalchemy
import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from booking.kit.errors import IdempotencyKeyReused, ServiceUnavailable, ValidationFailed
from booking.kit.schemas import load, to_minor
from booking.kit.tokens import MissingScope
from booking.payments.exceptions import PaymentDeclined, PaymentPending
from booking.reservations.exceptions import (
    ChangeInProgress,
    NoRoomLeft,
    NotAllowedNow,
    ReservationNotCancellable,
    ReservationNotFound,
    RoomTypeNotFound,
)
from booking.reservations.holds import utcnow
from booking.reservations.models import BookingChange, Reservation
from booking.reservations.service import ReservationsService
from booking.search import pricing
from booking.search.exceptions import HotelNotFound
from booking.search.models import Hotel, RatePlan, RoomType
from booking.search.schemas import QuoteRequest, QuoteSchema
from tests.unit.recorded import dispatched, outbox_of
from tests.unit.test_holds import migrated_engine
from tests.unit.test_users_service import calling_as

CHECK_IN = utcnow().date() + timedelta(days=30)
STAY = {"check_in": CHECK_IN.isoformat(), "check_out": (CHECK_IN + timedelta(days=2)).isoformat()}
HOTEL = {
    "id": 3, "name": "Le Petit Paris", "address": "3 Main Street, Paris", "city": "Paris", "stars": 3,
    "room_types": [
        {"code": "double", "name": "Double", "room_count": 2, "max_guests": 2,
         "nightly_price": {"amount": "150.00", "currency": "EUR"}},
        {"code": "single", "name": "Single", "room_count": 3, "max_guests": 1,
         "nightly_price": {"amount": "90.00", "currency": "EUR"}},
    ],
}
ADA = calling_as("user:7", "account", "bookings")
GRACE = calling_as("user:8", "account", "bookings")
PAYMENTS_SERVICE = calling_as("client:payments", "users:read", "reservations:read", client_id="payments")
PAYMENT_ID = "pay_0123456789abcdefghij"
PDF = {"filename": "confirmation.pdf", "content_type": "application/pdf",
       "content_base64": base64.b64encode(b"%PDF-1.7 a confirmation").decode()}


@pytest.fixture
def db(tmp_path):
    """Stands in for the Database provider: each `get_session()` a session that commits at
    the end of its `with` block, as nameko-sqlalchemy's."""
    engine = migrated_engine(tmp_path, "reservations")
    yield SimpleNamespace(get_session=sessionmaker(engine, class_=nameko_sqlalchemy.database.Session))
    engine.dispose()


def catalogue_hotel():
    """HOTEL as search keeps it: each room type on a flexible plan at its nightly price
    (free until 48 hours before check-in, then the first night) and, for doubles, a
    non-refundable one; no rule in its calendar."""
    hotel = Hotel(id=3, name=HOTEL["name"], address=HOTEL["address"], timezone="Europe/Paris", check_in_time="15:00",
                  check_out_time="11:00", currency="EUR", vat_basis_points=1000, city_tax_minor=0, rate_rules=[])
    for room in HOTEL["room_types"]:
        price = to_minor(room["nightly_price"]["amount"])
        plans = [RatePlan(code="flexible", name="Flexible", price_minor=price, free_until_hours=48,
                          penalty="first_night", penalty_percent=None)]
        if room["code"] == "double":
            plans.append(RatePlan(code="nonrefundable", name="Non-refundable", price_minor=price * 9 // 10,
                                  free_until_hours=None, penalty="all", penalty_percent=None))
        hotel.room_types.append(RoomType(code=room["code"], name=room["name"], max_guests=room["max_guests"],
                                         max_occupancy=room["max_guests"] + 1, room_count=room["room_count"],
                                         price_minor=price, currency="EUR", rate_plans=plans))
    return hotel


def quote(hotel_id, check_in, check_out, rooms):
    """search.quote of `catalogue_hotel()`, by search's own pricing, as it answers over RPC."""
    request = load(QuoteRequest(), {"hotel_id": hotel_id, "check_in": check_in, "check_out": check_out,
                                    "rooms": rooms})
    return QuoteSchema().dump(pricing.quote(catalogue_hotel(), request["check_in"], request["check_out"],
                                            request["rooms"]))


def worker(db, caller=ADA):
    service = worker_factory(ReservationsService, db=db, caller=caller, config={"HOLD_SECONDS": 900},
                             outbox=outbox_of(ReservationsService))
    service.search.get_hotel.return_value = HOTEL
    service.search.quote.side_effect = quote
    service.users.get.return_value = {"id": 7, "email": "ada@example.com", "full_name": "Ada Lovelace"}
    service.reports.render.return_value = PDF  # the confirmation, rendered on confirming
    return service


@pytest.fixture
def reservations(db):
    return worker(db)


def hold(service, key="key-1", **arguments):
    return service.hold(**{"hotel_id": 3, "room_type": "double", "guests": 2, "idempotency_key": key,
                           **STAY, **arguments})


def stored(db, reservation_id=None):
    """The statuses of the stored reservations, or the (status, reason, payment id) of one."""
    with db.get_session() as session:
        if reservation_id:
            reservation = session.get(Reservation, reservation_id)
            return reservation.status, reservation.status_reason, reservation.payment_id
        return [reservation.status for reservation in session.scalars(select(Reservation))]


def make_overdue(db, reservation_id):
    with db.get_session() as session:
        session.execute(update(Reservation).where(Reservation.id == reservation_id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))


def doubles_left(service):
    return service.availability(3, **STAY)["double"]


def payment_succeeded(reservation_id):
    return {"payment_id": PAYMENT_ID, "reservation_id": reservation_id, "user_id": 7, "status": "succeeded",
            "amount_minor": 30000, "refunded_minor": 0, "currency": "EUR", "failure_code": None}


def test_hold_holds_a_room_for_fifteen_minutes_at_the_price_of_the_stay(reservations):
    answer = hold(reservations)

    assert (answer["status"], answer["user_id"], answer["hotel_name"], answer["room_name"]) == (
        "held", 7, "Le Petit Paris", "Double")
    assert (answer["nights"], answer["total"]) == (2, {"amount": "300.00", "currency": "EUR"})
    assert answer["nightly_price"] == {"amount": "150.00", "currency": "EUR"}
    expires_in = datetime.fromisoformat(answer["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=14, seconds=50) < expires_in <= timedelta(minutes=15)
    reservations.search.quote.assert_called_once_with(3, STAY["check_in"], STAY["check_out"], [
        {"room_type": "double", "rate_plan": "flexible", "adults": 2, "children": []}])
    assert doubles_left(reservations) == 1


def test_hold_records_its_event_with_the_hold(reservations):
    answer = hold(reservations)

    assert dispatched(reservations) == [{
        "reservation_id": answer["id"], "user_id": 7, "hotel_id": 3, "hotel_name": "Le Petit Paris",
        "room_type": "double", "check_in": STAY["check_in"], "check_out": STAY["check_out"], "rooms": 1,
        "status": "held", "reason": None, "total_minor": 30000, "currency": "EUR", "payment_id": None,
        "version": 1, "holding": [{"room_type": "double", "count": 1, **STAY}], "refund_minor": 0, "kept_minor": 0}]


def test_the_same_idempotency_key_returns_the_same_reservation_and_holds_nothing_more(reservations, db):
    first = hold(reservations)

    assert hold(reservations) == first

    reservations.search.quote.assert_called_once()
    assert stored(db) == ["held"] and doubles_left(reservations) == 1
    # its event was committed with the hold: a retry records none
    assert len(dispatched(reservations, "reservation_held")) == 1


def test_the_same_idempotency_key_for_another_stay_is_refused(reservations, db):
    hold(reservations)

    with pytest.raises(IdempotencyKeyReused) as refusal:
        hold(reservations, check_out=(CHECK_IN + timedelta(days=3)).isoformat())

    assert refusal.value.http_status == 422
    assert stored(db) == ["held"]


def test_a_third_hold_of_two_rooms_finds_no_room_left(reservations, db):
    hold(reservations, key="key-1")
    hold(worker(db, GRACE), key="key-1")

    with pytest.raises(NoRoomLeft) as refusal:
        hold(reservations, key="key-3")

    assert refusal.value.http_status == 409
    assert stored(db) == ["held", "held"]
    assert len(dispatched(reservations, "reservation_held")) == 2  # the refused third recorded nothing


def test_an_unknown_room_type_is_not_found(reservations, db):
    with pytest.raises(RoomTypeNotFound) as refusal:
        hold(reservations, room_type="suite")

    assert (refusal.value.http_status, refusal.value.details) == (404, {"room_type": "suite"})
    assert stored(db) == []
    assert dispatched(reservations) == []


def test_hold_needs_the_bookings_scope(db):
    service = worker(db, calling_as("user:7", "account"))

    with pytest.raises(MissingScope):
        hold(service)

    service.search.quote.assert_not_called()
    assert stored(db) == []


@pytest.mark.parametrize("stay, field", [
    ({"check_in": (CHECK_IN - timedelta(days=31)).isoformat()}, "check_in"),
    ({"check_out": (CHECK_IN - timedelta(days=1)).isoformat()}, "check_out"),
    ({"check_out": CHECK_IN.isoformat()}, "check_out"),
])
def test_a_stay_in_the_past_or_ending_before_it_begins_is_not_valid(reservations, db, stay, field):
    with pytest.raises(ValidationFailed) as refusal:
        hold(reservations, **stay)

    assert list(refusal.value.details) == [field]
    reservations.search.quote.assert_not_called()
    assert stored(db) == []


def test_get_gives_the_callers_own_reservation(reservations):
    answer = hold(reservations)

    assert reservations.get(answer["id"]) == answer


def test_someone_elses_reservation_is_not_found(reservations, db):
    answer = hold(reservations)

    with pytest.raises(ReservationNotFound) as refusal:
        worker(db, GRACE).get(answer["id"])

    assert (refusal.value.http_status, refusal.value.details) == (404, {"reservation_id": answer["id"]})


def test_a_service_with_the_reservations_read_scope_gets_any_reservation(reservations, db):
    answer = hold(reservations)

    assert worker(db, PAYMENTS_SERVICE).get(answer["id"]) == answer


def test_cancel_releases_a_held_room_once_and_cancelling_again_changes_nothing(reservations, db):
    answer = hold(reservations)

    cancelled = reservations.cancel(answer["id"])

    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "cancelled_by_guest")
    assert doubles_left(reservations) == 2
    [event] = dispatched(reservations, "reservation_cancelled")
    assert (event["reservation_id"], event["status"], event["reason"]) == (
        answer["id"], "cancelled", "cancelled_by_guest")

    assert reservations.cancel(answer["id"]) == cancelled
    assert dispatched(reservations, "reservation_cancelled") == [event]
    assert doubles_left(reservations) == 2


def test_a_read_scope_never_cancels_someone_elses_reservation(reservations, db):
    answer = hold(reservations)
    reader = worker(db, calling_as("user:99", "bookings", "reservations:read"))

    assert reader.get(answer["id"])["id"] == answer["id"]  # reading is what the scope is for
    with pytest.raises(ReservationNotFound):
        reader.cancel(answer["id"])
    assert stored(db, answer["id"])[0] == "held"


def test_a_stay_that_is_over_cannot_be_cancelled(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))
    with db.get_session() as session:
        session.execute(update(Reservation).values(check_in=utcnow().date() - timedelta(days=3),
                                                   check_out=utcnow().date()))
        session.commit()

    with pytest.raises(ReservationNotCancellable) as refusal:
        reservations.cancel(answer["id"])

    assert refusal.value.http_status == 409
    assert stored(db, answer["id"])[0] == "confirmed"
    assert dispatched(reservations, "reservation_cancelled") == []


def test_confirm_paid_confirms_a_held_reservation_once_and_a_redelivery_changes_nothing(reservations, db):
    answer = hold(reservations)

    reservations.confirm_paid(payment_succeeded(answer["id"]))
    reservations.confirm_paid(payment_succeeded(answer["id"]))

    assert stored(db, answer["id"]) == ("confirmed", "paid", PAYMENT_ID)
    [event] = dispatched(reservations, "reservation_confirmed")
    assert (event["reservation_id"], event["status"], event["payment_id"]) == (answer["id"], "confirmed", PAYMENT_ID)
    reservations.reports.render.assert_called_once()  # rendered before confirming, and kept
    reservations.payments.refund.assert_not_called()
    assert doubles_left(reservations) == 1


def test_a_second_payment_for_a_confirmed_reservation_is_refunded(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))

    reservations.confirm_paid({**payment_succeeded(answer["id"]), "payment_id": "pay_second"})

    assert stored(db, answer["id"]) == ("confirmed", "paid", PAYMENT_ID)
    reservations.payments.refund.assert_called_once_with("pay_second")
    assert len(dispatched(reservations, "reservation_confirmed")) == 1


def test_a_payment_for_an_expired_hold_is_refunded_not_confirmed(reservations, db):
    answer = hold(reservations)
    make_overdue(db, answer["id"])
    reservations.payments.for_reservation.return_value = []
    reservations.expire_holds()

    reservations.confirm_paid(payment_succeeded(answer["id"]))

    assert stored(db, answer["id"])[0] == "expired"
    reservations.payments.refund.assert_called_once_with(PAYMENT_ID)
    assert dispatched(reservations, "reservation_confirmed") == []


def test_a_refused_card_keeps_the_hold_and_notes_why(reservations, db):
    answer = hold(reservations)
    refused = {**payment_succeeded(answer["id"]), "status": "failed", "failure_code": "insufficient_funds"}

    reservations.note_refused_card(refused)
    reservations.note_refused_card(refused)  # delivered again

    assert stored(db, answer["id"]) == ("held", None, None)
    assert reservations.get(answer["id"])["last_payment_failure"] == "insufficient_funds"
    assert dispatched(reservations, "reservation_cancelled") == []
    assert doubles_left(reservations) == 1  # the room is still held for another card
    reservations.confirm_paid(payment_succeeded(answer["id"]))  # the next card goes through
    assert reservations.get(answer["id"])["last_payment_failure"] is None


def test_a_refused_card_changes_nothing_on_a_reservation_paid_meanwhile(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))

    reservations.note_refused_card({**payment_succeeded(answer["id"]), "payment_id": "pay_declined-attempt",
                                    "status": "failed", "failure_code": "card_declined"})

    assert stored(db, answer["id"])[0] == "confirmed"
    assert reservations.get(answer["id"])["last_payment_failure"] is None
    assert dispatched(reservations, "reservation_cancelled") == []


def test_expire_holds_expires_an_unpaid_hold_past_due_and_gives_its_room_back(reservations, db):
    overdue, fresh = hold(reservations, key="key-1"), hold(reservations, key="key-2")
    make_overdue(db, overdue["id"])
    reservations.payments.for_reservation.return_value = []

    reservations.expire_holds()

    reservations.payments.for_reservation.assert_called_once_with(overdue["id"])
    assert stored(db, overdue["id"]) == ("expired", "not_paid_in_time", None)
    assert stored(db, fresh["id"]) == ("held", None, None)
    assert [event["reservation_id"] for event in dispatched(reservations, "reservation_expired")] == [overdue["id"]]
    assert doubles_left(reservations) == 1


def test_expire_holds_confirms_a_hold_paid_after_all(reservations, db):
    answer = hold(reservations)
    make_overdue(db, answer["id"])
    reservations.payments.for_reservation.return_value = [
        {"id": "pay_failed-attempt", "status": "failed"}, {"id": PAYMENT_ID, "status": "succeeded"}]

    reservations.expire_holds()

    assert stored(db, answer["id"]) == ("confirmed", "paid", PAYMENT_ID)
    assert len(dispatched(reservations, "reservation_confirmed")) == 1
    assert dispatched(reservations, "reservation_expired") == []
    assert doubles_left(reservations) == 1


def test_expire_holds_keeps_the_hold_while_payments_cannot_say(reservations, db):
    answer = hold(reservations)
    make_overdue(db, answer["id"])
    reservations.payments.for_reservation.side_effect = ServiceUnavailable(details={"service": "payments"})

    reservations.expire_holds()

    assert stored(db, answer["id"]) == ("held", None, None)
    assert dispatched(reservations, "reservation_expired") == []
    assert doubles_left(reservations) == 1


@pytest.mark.parametrize("status", ["pending", "unknown"])
def test_expire_holds_keeps_a_hold_whose_payment_is_still_being_charged_or_unknown(reservations, db, status):
    """for_reservation settles what it can with the bank and answers the rest as
    it stands: a charge under way, or one the bank cannot tell yet, may still take
    the money, so its hold stays until a later sweep finds it concluded."""
    answer = hold(reservations)
    make_overdue(db, answer["id"])
    reservations.payments.for_reservation.return_value = [{"id": PAYMENT_ID, "status": status}]

    reservations.expire_holds()
    assert stored(db, answer["id"]) == ("held", None, None)

    reservations.payments.for_reservation.return_value = [{"id": PAYMENT_ID, "status": "succeeded"}]
    reservations.expire_holds()
    assert stored(db, answer["id"]) == ("confirmed", "paid", PAYMENT_ID)
    assert dispatched(reservations, "reservation_expired") == []


def test_availability_gives_the_rooms_left_of_each_room_type(reservations, db):
    hold(reservations, key="key-1")
    hold(reservations, key="key-2", room_type="single", guests=1)
    hold(reservations, key="key-3", room_type="single", guests=1,
         check_in=(CHECK_IN + timedelta(days=1)).isoformat())

    assert worker(db, calling_as("user:9")).availability(3, **STAY) == {"double": 1, "single": 1}
    assert reservations.availability(3, STAY["check_out"], (CHECK_IN + timedelta(days=5)).isoformat()) == {
        "double": 2, "single": 3}


def last_sunday_of_march_ahead():
    """The next change to summer time in Paris at least three days from now."""
    year = utcnow().year
    while True:
        last = datetime(year, 3, 31).date()
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        if sunday > utcnow().date() + timedelta(days=3):
            return sunday
        year += 1


def test_the_refund_is_the_preview_a_second_before_and_after_a_deadline_across_a_daylight_saving_change(
        reservations, db, monkeypatch):
    # check-in at 15:00 the day after the clocks go forward: 48 hours earlier is 14:00 on the clock
    check_in = last_sunday_of_march_ahead() + timedelta(days=1)
    stay = {"check_in": check_in.isoformat(), "check_out": (check_in + timedelta(days=2)).isoformat()}
    bookings = [hold(reservations, key=f"dst-{n}", **stay) for n in range(2)]
    for booking in bookings:
        reservations.confirm_paid({**payment_succeeded(booking["id"]), "payment_id": f"pay_{booking['id']}"})
    policy = reservations.get(bookings[0]["id"])["booked_rooms"][0]["cancellation_policy"]
    deadline = datetime.fromisoformat(policy["deadline"])
    assert policy["deadline_local"] == f"{check_in - timedelta(days=2)}T14:00:00+01:00"
    assert deadline == datetime.combine(check_in, datetime.min.time(), UTC) + timedelta(hours=13 - 48)

    for booking, moment, refund, penalty in [(bookings[0], deadline - timedelta(seconds=1), "300.00", "0.00"),
                                             (bookings[1], deadline + timedelta(seconds=1), "150.00", "150.00")]:
        monkeypatch.setattr("booking.reservations.holds.utcnow", lambda moment=moment: moment)
        preview = reservations.cancellation(booking["id"])
        cancelled = reservations.cancel(booking["id"])
        assert (preview["refund"]["amount"], preview["penalty"]["amount"]) == (refund, penalty)
        assert cancelled["cancellation"]["refund"] == preview["refund"]
        assert cancelled["cancellation"]["penalty"] == preview["penalty"]
        assert (cancelled["refund"]["amount"], cancelled["kept"]["amount"]) == (refund, penalty)
    events = dispatched(reservations, "reservation_cancelled")
    assert [(e["refund_minor"], e["kept_minor"]) for e in events] == [(30000, 0), (15000, 15000)]


def test_a_held_booking_cancelled_refunds_and_keeps_nothing(reservations):
    answer = hold(reservations, rooms=[{"room_type": "double", "rate_plan": "nonrefundable", "adults": 2}],
                  room_type=None, guests=None)
    assert reservations.cancellation(answer["id"])["penalty"]["amount"] == "0.00"
    assert reservations.cancel(answer["id"])["cancellation"]["refund"]["amount"] == "0.00"


def test_one_room_of_two_is_cancelled_alone_and_again_changes_nothing(reservations, db):
    answer = hold(reservations, rooms=[{"room_type": "double", "adults": 2}, {"room_type": "single", "adults": 1}],
                  room_type=None, guests=None)
    reservations.confirm_paid(payment_succeeded(answer["id"]))

    for _ in range(3):
        after = reservations.cancel(answer["id"], room=2)

    assert (after["status"], after["rooms"], after["total"]["amount"], after["refund"]["amount"]) == (
        "confirmed", 1, "300.00", "180.00")
    [changed] = dispatched(reservations, "reservation_changed")
    assert (changed["version"], changed["refund_minor"]) == (2, 18000)
    assert changed["holding"] == [{"room_type": "double", "count": 1, **STAY}]
    assert reservations.availability(3, **STAY) == {"double": 1, "single": 3}


@pytest.mark.parametrize("room", [1.5, 2.00001, True, "2.5", "two"])
def test_a_room_that_is_not_a_whole_number_is_refused_not_cut_to_one(reservations, room):
    """A room's number comes as an integer or as its digits (the cancel form sends
    text, so "2" is room 2); 2.00001 is not room 2, nor true room 1."""
    answer = hold(reservations, rooms=[{"room_type": "double", "adults": 2}, {"room_type": "single", "adults": 1}],
                  room_type=None, guests=None)
    reservations.confirm_paid(payment_succeeded(answer["id"]))

    with pytest.raises(ValidationFailed):
        reservations.cancellation(answer["id"], room=room)
    with pytest.raises(ValidationFailed):
        reservations.cancel(answer["id"], room=room)
    assert reservations.cancellation(answer["id"], room="2")["rooms"] == [2]
    assert reservations.get(answer["id"])["status"] == "confirmed"


def test_a_change_replayed_three_times_charges_once_and_moves_the_nights_once(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))
    longer = {"check_in": STAY["check_in"], "check_out": (CHECK_IN + timedelta(days=3)).isoformat()}
    reservations.payments.charge_difference.return_value = {"id": "pay_difference", "status": "succeeded"}
    token = {"token": "tok_1abcdef", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "holder": "A"}

    changed = [reservations.change(answer["id"], card=token, idempotency_key="longer", **longer) for _ in range(3)]

    assert changed[0] == changed[1] == changed[2]
    assert (changed[0]["check_out"], changed[0]["total"]["amount"]) == (longer["check_out"], "450.00")
    reservations.payments.charge_difference.assert_called_once_with(
        answer["id"], 7, 15000, "EUR", token, f"change-{changed[0]['change']['id']}")
    assert len(dispatched(reservations, "reservation_changed")) == 1
    assert reservations.availability(3, **longer)["double"] == 1


def test_a_change_whose_difference_is_declined_leaves_the_booking_as_it_was(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))
    before = reservations.get(answer["id"])
    later = {"check_in": (CHECK_IN + timedelta(days=1)).isoformat(),
             "check_out": (CHECK_IN + timedelta(days=4)).isoformat()}
    reservations.payments.charge_difference.side_effect = PaymentDeclined.because("card_declined")
    token = {"token": "tok_1abcdef", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "holder": "A"}

    for _ in range(2):  # the retry with the same key gets the same answer, without charging again
        with pytest.raises(PaymentDeclined):
            reservations.change(answer["id"], card=token, idempotency_key="declined", **later)

    assert reservations.get(answer["id"]) == before
    assert reservations.payments.charge_difference.call_count == 1
    assert reservations.availability(3, **STAY)["double"] == 1  # the old nights, still held
    assert reservations.availability(3, check_in=STAY["check_out"], check_out=later["check_out"])["double"] == 2
    assert dispatched(reservations, "reservation_changed") == []


def test_while_a_change_waits_for_the_bank_the_booking_takes_no_other_change_and_no_cancellation(reservations, db):
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))
    later = {"check_in": STAY["check_in"], "check_out": (CHECK_IN + timedelta(days=3)).isoformat()}
    token = {"token": "tok_1abcdef", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030,
             "holder": "A"}
    reservations.payments.charge_difference.side_effect = PaymentPending()
    with pytest.raises(PaymentPending):
        reservations.change(answer["id"], card=token, idempotency_key="first", **later)

    with pytest.raises(ChangeInProgress):
        reservations.change(answer["id"], card=token, idempotency_key="second", **later)
    with pytest.raises(ChangeInProgress):
        reservations.cancel(answer["id"])
    assert reservations.availability(3, **later)["double"] == 1  # the new night is held meanwhile

    # the bank says the difference was paid: the sweep finishes the change after its worker's time
    with db.get_session() as session:
        session.execute(update(BookingChange).values(created_at=utcnow() - timedelta(minutes=5)))
    reservations.payments.for_reservation.return_value = [
        {"id": "pay_difference", "status": "succeeded", "purpose": f"change-{change_id(db)}"}]
    reservations.expire_holds()
    assert reservations.get(answer["id"])["check_out"] == later["check_out"]
    assert reservations.cancel(answer["id"])["status"] == "cancelled"


def change_id(db):
    with db.get_session() as session:
        return session.scalar(select(BookingChange.id))


# -- the hotel's side -----------------------------------------------------------------

MANAGER = calling_as("user:50", "account", "bookings", "partner")


def front_desk(db, manages=True):
    """The service as the manager of hotel 3 calls it (search says whether they manage it)."""
    service = worker(db, caller=MANAGER)
    service.search.managed.side_effect = None if manages else HotelNotFound()
    service.search.managed.return_value = {"hotel_id": 3, "name": "Le Petit Paris", "city": "Paris",
                                           "timezone": "Europe/Paris", "currency": "EUR",
                                           "room_types": {"double": {"name": "Double", "rooms": 2}}}
    service.users.get_many.return_value = {"7": {"id": 7, "email": "ada@example.com", "full_name": "Ada Lovelace"}}
    return service


def arriving_today(db, reservations):
    """A confirmed booking whose day of arrival has come."""
    answer = hold(reservations)
    reservations.confirm_paid(payment_succeeded(answer["id"]))
    with db.get_session() as session:
        session.execute(update(Reservation).where(Reservation.id == answer["id"])
                        .values(check_in=utcnow().date() - timedelta(days=1)))
    return answer["id"]


def test_a_hotels_manager_checks_a_guest_in_and_out_once_and_sees_the_guests_name(db, reservations):
    booking = arriving_today(db, reservations)
    desk = front_desk(db)

    checked_in = desk.check_in(booking)
    assert (checked_in["status"], checked_in["guest_name"]) == ("checked_in", "Ada Lovelace")
    assert desk.check_in(booking)["status"] == "checked_in"  # again: the same answer, no second event
    assert desk.check_out(booking)["status"] == "checked_out"
    assert [event["reservation_id"] for event in dispatched(desk, "reservation_checked_in")] == [booking]
    with pytest.raises(NotAllowedNow) as refusal:
        desk.no_show(booking)
    assert refusal.value.details["reason"] == "not_confirmed"
    desk.search.managed.assert_called_with(3)


def test_another_hotels_manager_finds_no_such_reservation(db, reservations):
    booking = arriving_today(db, reservations)

    with pytest.raises(ReservationNotFound):
        front_desk(db, manages=False).check_in(booking)
    with pytest.raises(MissingScope):
        worker(db, caller=GRACE).check_in(booking)
    assert stored(db, booking)[0] == "confirmed"


def test_a_no_show_gives_the_rooms_back_and_grants_what_the_policy_does_not_keep(db, reservations):
    booking = arriving_today(db, reservations)

    desk = front_desk(db)
    answer = desk.no_show(booking)

    assert answer["status"] == "no_show"
    [event] = dispatched(desk, "reservation_no_show")
    assert (event["kept_minor"], event["refund_minor"]) == (15000, 15000)  # the first night of two kept
    assert event["holding"] == []


def test_a_hotels_list_filters_and_finds_by_name_never_listing_unfinished_tries(db, reservations):
    booking = arriving_today(db, reservations)
    abandoned = hold(reservations, key="key-2")["id"]
    reservations.cancel(abandoned)  # a hold given up before paying: a try, not a booking

    desk = front_desk(db)
    everything = desk.hotel_reservations(3)["items"]
    assert [item["id"] for item in everything] == [booking]
    assert [item["id"] for item in desk.hotel_reservations(3, status="cancelled")["items"]] == [abandoned]
    assert [item["id"] for item in desk.hotel_reservations(3, status="confirmed", q="lovelace")["items"]] == [booking]
    assert desk.hotel_reservations(3, q="grace")["items"] == []
    assert "card" not in str(everything)


# -- a guest's data ----------------------------------------------------------------------------

USERS_SERVICE = calling_as("client:users", "reservations:read", client_id="users")


def test_a_guests_stays_to_come_and_their_part_of_an_export(reservations, db):
    confirmed = hold(reservations)
    reservations.confirm_paid(payment_succeeded(confirmed["id"]))
    held = hold(reservations, "key-2")
    users = worker(db, USERS_SERVICE)

    [stay] = users.stays_to_come(7)
    assert (stay["id"], stay["check_in"]) == (confirmed["id"], STAY["check_in"])
    assert users.stays_to_come(8) == []
    part = users.guest_data(7)
    assert {r["id"] for r in part["reservations"]} == {confirmed["id"], held["id"]}
    assert list(part["confirmations"]) == [confirmed["id"]]
    assert base64.b64decode(part["confirmations"][confirmed["id"]]) == b"%PDF-1.7 a confirmation"
    assert users.guest_data(8) == {"reservations": [], "confirmations": {}}
    with pytest.raises(MissingScope):
        reservations.guest_data(7)  # a guest's own token does not read another's, nor its own this way


def test_a_deleted_guests_holds_end_and_confirmations_go_once_however_often_the_event_comes(reservations, db):
    confirmed = hold(reservations)
    reservations.confirm_paid(payment_succeeded(confirmed["id"]))
    held = hold(reservations, "key-2")

    for _ in range(2):
        reservations.forget_guest({"user_id": 7, "credentials_version": 1})

    assert stored(db, held["id"]) == ("cancelled", "account_deleted", None)
    assert stored(db, confirmed["id"])[0] == "confirmed"
    with db.get_session() as session:
        assert session.scalar(select(Reservation.confirmation_pdf).where(Reservation.id == confirmed["id"])) is None
    assert [event["reservation_id"] for event in dispatched(reservations, "reservation_cancelled")] == [held["id"]]
    assert doubles_left(reservations) == 1  # the hold's room is back
