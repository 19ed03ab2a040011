"""The plain functions of booking/reservations/holds.py on a migrated SQLite file: each
test opens its own short transactions, as the service does."""
from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.errors import IdempotencyKeyReused
from booking.kit.migrations import upgrade
from booking.reservations import holds
from booking.reservations.exceptions import NoRoomLeft
from booking.reservations.models import BookedRoom, Reservation, RoomNight

HOTEL = 3
CHECK_IN = date(2030, 3, 1)
STAY = holds.nights(CHECK_IN, CHECK_IN + timedelta(days=3))  # 1, 2 and 3 March
STATUSES = ["held", "confirmed", "cancelled", "expired", "checked_in", "checked_out", "no_show"]
ALLOWED = {("held", "confirmed"), ("held", "cancelled"), ("held", "expired"), ("confirmed", "cancelled"),
           ("confirmed", "checked_in"), ("confirmed", "no_show"), ("checked_in", "checked_out")}


def migrated_engine(tmp_path, service):
    """An engine on a new SQLite file holding `service`'s tables (its migrations applied)."""
    upgrade(service, uri := f"sqlite:///{tmp_path}/{service}.db")
    return create_db_engine(uri)


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(tmp_path, "reservations")
    yield engine
    engine.dispose()


def take(engine, stay_nights, capacity=2, room_type="double", hotel_id=HOTEL):
    """`take_rooms` in a transaction of its own, rolled back if it raises."""
    with Session(engine) as session, session.begin():
        holds.take_rooms(session, hotel_id, room_type, stay_nights, capacity)


def room_nights(engine, room_type="double"):
    """{night: (held, capacity)} of every RoomNight row of the hotel's room type."""
    with Session(engine) as session:
        return {row.night: (row.held, row.capacity) for row in session.scalars(select(RoomNight).where(
            RoomNight.hotel_id == HOTEL, RoomNight.room_type == room_type))}


def held(engine):
    return {night: taken for night, (taken, _) in room_nights(engine).items()}


def reservation(id="BKAAAA0001", status="held", user_id=7, key="key-1", fingerprint="f" * 64,
                expires_at=None):
    now = holds.utcnow()
    check_out = STAY[-1] + timedelta(days=1)
    room = BookedRoom(line=1, room_type="double", room_name="Double", rate_plan="flexible", rate_plan_name="Flexible",
                      adults=2, children=[], check_in=STAY[0], check_out=check_out,
                      nights=[{"date": night.isoformat(), "price_minor": 15000} for night in STAY],
                      price_minor=45000, city_tax_minor=0, total_minor=45000,
                      policy={"free_until_hours": 48, "penalty": "first_night", "penalty_percent": None},
                      deadline=None, penalty_minor=15000, status="active")
    return Reservation(
        id=id, user_id=user_id, idempotency_key=key, request_hash=fingerprint, hotel_id=HOTEL,
        hotel_name="Le Petit Paris", hotel_address="3 Main Street, Paris", room_type="double",
        room_name="Double", check_in=STAY[0], check_out=check_out, guests=2, rooms=1,
        nightly_price_minor=15000, total_minor=45000, currency="EUR", status=status, lines=[room],
        expires_at=expires_at or now + timedelta(minutes=15), created_at=now, updated_at=now, refunded=False)


def book(engine, id="BKAAAA0001", status="held", capacity=2, **fields):
    """A reservation in `status`, holding its room on every night if that status holds rooms."""
    with Session(engine) as session, session.begin():
        if status in holds.HOLDS_ROOMS:
            holds.take_rooms(session, HOTEL, "double", STAY, capacity)
        session.add(reservation(id=id, status=status, key=f"key-{id}", **fields))
    return id


def move(engine, reservation_id, to_status, **options):
    """`move` in a transaction of its own: (what it returned, as id and status, or None)."""
    with Session(engine) as session, session.begin():
        moved = holds.move(session, reservation_id, to_status, **options)
        return None if moved is None else (moved.id, moved.status)


def stored(engine, reservation_id):
    with Session(engine) as session:
        return session.get(Reservation, reservation_id)


def test_take_rooms_creates_the_missing_nights_with_the_given_capacity(engine):
    take(engine, STAY, capacity=4)

    assert room_nights(engine) == dict.fromkeys(STAY, (1, 4))


def test_take_rooms_takes_one_room_on_every_night_and_keeps_a_known_nights_capacity(engine):
    take(engine, STAY[:2], capacity=2)

    take(engine, STAY, capacity=5)

    assert room_nights(engine) == {STAY[0]: (2, 2), STAY[1]: (2, 2), STAY[2]: (1, 5)}


def test_one_full_night_refuses_the_stay_and_the_rollback_leaves_nothing_taken(engine):
    take(engine, STAY[1:2], capacity=1)

    with pytest.raises(NoRoomLeft) as refusal:
        take(engine, STAY, capacity=1)

    assert (refusal.value.http_status, refusal.value.details) == (409, {"room_type": "double"})
    assert room_nights(engine) == {STAY[1]: (1, 1)}


def test_held_never_exceeds_capacity(engine):
    refused = 0
    for _ in range(5):
        try:
            take(engine, STAY, capacity=2)
        except NoRoomLeft:
            refused += 1

    assert refused == 3
    assert held(engine) == dict.fromkeys(STAY, 2)


def test_another_room_type_or_hotel_does_not_fill_a_night(engine):
    take(engine, STAY, capacity=1, room_type="single")
    take(engine, STAY, capacity=1, hotel_id=HOTEL + 1)

    take(engine, STAY, capacity=1)

    assert held(engine) == dict.fromkeys(STAY, 1)


@pytest.mark.parametrize("from_status, to_status", list(product(STATUSES, STATUSES)))
def test_move_follows_the_transitions_and_nothing_else(engine, from_status, to_status):
    book(engine, status=from_status)

    moved = move(engine, "BKAAAA0001", to_status)

    if (from_status, to_status) in ALLOWED:
        assert moved == ("BKAAAA0001", to_status)
    else:
        assert moved is None
    assert stored(engine, "BKAAAA0001").status == (to_status if moved else from_status)


def test_move_records_the_reason_the_time_and_the_changes(engine):
    book(engine)
    now = datetime(2030, 2, 1, 12, 0, tzinfo=UTC)

    move(engine, "BKAAAA0001", "confirmed", reason="paid", now=now, payment_id="pay_abcdefgh")

    confirmed = stored(engine, "BKAAAA0001")
    assert (confirmed.status_reason, confirmed.payment_id) == ("paid", "pay_abcdefgh")
    assert confirmed.updated_at.replace(tzinfo=UTC) == now


def test_move_of_an_unknown_reservation_returns_none(engine):
    assert move(engine, "BKZZZZ9999", "cancelled") is None


@pytest.mark.parametrize("path, rooms_held", [
    (["confirmed"], 2),
    (["cancelled"], 1),
    (["expired"], 1),
    (["confirmed", "cancelled"], 1),
    (["confirmed", "checked_in", "checked_out"], 2),  # a stay checked out keeps its (past) nights
    (["confirmed", "no_show"], 1),  # a no-show's rooms go back on sale
])
def test_leaving_a_rooms_holding_state_gives_the_rooms_back(engine, path, rooms_held):
    book(engine, "BKAAAA0001")
    book(engine, "BKAAAA0002")

    for to_status in path:
        assert move(engine, "BKAAAA0001", to_status) == ("BKAAAA0001", to_status)

    assert held(engine) == dict.fromkeys(STAY, rooms_held)


@pytest.mark.parametrize("path", [["cancelled"], ["expired"], ["confirmed", "cancelled"]])
def test_a_second_identical_move_returns_none_and_gives_nothing_back_again(engine, path):
    book(engine, "BKAAAA0001")
    book(engine, "BKAAAA0002")
    for to_status in path:
        move(engine, "BKAAAA0001", to_status)
    before = stored(engine, "BKAAAA0001")

    assert move(engine, "BKAAAA0001", path[-1], reason="replayed") is None

    after = stored(engine, "BKAAAA0001")
    assert (after.status, after.status_reason, after.updated_at) == (
        before.status, before.status_reason, before.updated_at)
    assert held(engine) == dict.fromkeys(STAY, 1)


def test_of_two_racing_moves_only_the_first_moves_and_gives_the_rooms_back(engine):
    book(engine, "BKAAAA0001")
    book(engine, "BKAAAA0002")

    with Session(engine) as late, late.begin():
        assert late.get(Reservation, "BKAAAA0001").status == "held"  # read before the other commits
        assert move(engine, "BKAAAA0001", "cancelled") == ("BKAAAA0001", "cancelled")
        assert holds.move(late, "BKAAAA0001", "expired") is None

    assert stored(engine, "BKAAAA0001").status == "cancelled"
    assert held(engine) == dict.fromkeys(STAY, 1)


def test_rooms_left_counts_the_fullest_night_of_the_stay_per_room_type(engine):
    take(engine, STAY[:1], capacity=3)
    take(engine, STAY[:2], capacity=3)  # 1 March: 2 held, 2 March: 1 held
    take(engine, STAY[2:], capacity=2, room_type="single")  # outside the stay below
    take(engine, STAY, capacity=3, hotel_id=HOTEL + 1)

    with Session(engine) as session:
        left = holds.rooms_left(session, HOTEL, {"double": 3, "single": 2, "suite": 1}, STAY[:2])

    assert left == {"double": 1, "single": 2, "suite": 1}


def test_rooms_left_is_never_negative_when_the_catalogue_shrank(engine):
    take(engine, STAY, capacity=2)
    take(engine, STAY, capacity=2)

    with Session(engine) as session:
        assert holds.rooms_left(session, HOTEL, {"double": 1}, STAY) == {"double": 0}


def test_request_hash_ignores_the_idempotency_key_and_tells_stays_apart():
    request = {"hotel_id": HOTEL, "room_type": "double", "check_in": STAY[0], "check_out": STAY[2], "guests": 2}
    fingerprint = holds.request_hash({**request, "idempotency_key": "key-1"})

    assert holds.request_hash({**request, "idempotency_key": "key-2"}) == fingerprint
    assert holds.request_hash(request) == fingerprint
    assert holds.request_hash({**request, "idempotency_key": "key-1", "check_out": STAY[1]}) != fingerprint
    assert holds.request_hash({**request, "idempotency_key": "key-1", "room_type": "single"}) != fingerprint


@pytest.mark.parametrize("check_in, check_out, expected", [
    (date(2030, 3, 1), date(2030, 3, 4), [date(2030, 3, 1), date(2030, 3, 2), date(2030, 3, 3)]),
    (date(2030, 2, 28), date(2030, 3, 2), [date(2030, 2, 28), date(2030, 3, 1)]),
    (date(2030, 12, 31), date(2031, 1, 1), [date(2030, 12, 31)]),
    (date(2030, 3, 1), date(2030, 3, 1), []),
])
def test_nights_are_the_nights_slept_not_the_day_of_departure(check_in, check_out, expected):
    assert holds.nights(check_in, check_out) == expected


def test_expired_holds_are_only_held_reservations_past_their_expiry(engine):
    now = holds.utcnow()
    past, future = now - timedelta(seconds=1), now + timedelta(minutes=1)
    book(engine, "BKAAAA0001", expires_at=past, capacity=5)
    book(engine, "BKAAAA0002", expires_at=future, capacity=5)
    for id, status in [("BKAAAA0003", "confirmed"), ("BKAAAA0004", "cancelled"), ("BKAAAA0005", "expired")]:
        book(engine, id, status=status, expires_at=past, capacity=5)

    with Session(engine) as session:
        assert holds.expired_holds(session, now) == ["BKAAAA0001"]


def test_find_by_key_returns_the_earlier_reservation_of_the_same_request(engine):
    with Session(engine) as session, session.begin():
        session.add(reservation(key="key-1", fingerprint="a" * 64))

    with Session(engine) as session:
        assert holds.find_by_key(session, 7, "key-1", "a" * 64).id == "BKAAAA0001"
        assert holds.find_by_key(session, 7, "key-2", "a" * 64) is None
        assert holds.find_by_key(session, 8, "key-1", "b" * 64) is None  # another guest's key


def test_find_by_key_refuses_the_same_key_for_another_request(engine):
    with Session(engine) as session, session.begin():
        session.add(reservation(key="key-1", fingerprint="a" * 64))

    with Session(engine) as session, pytest.raises(IdempotencyKeyReused) as refusal:
        holds.find_by_key(session, 7, "key-1", "b" * 64)
    assert refusal.value.http_status == 422
