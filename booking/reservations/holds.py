"""Holding rooms night by night, and moving reservations between states: plain
functions of a session, each meant to run inside one short transaction."""
import secrets
from collections import Counter, defaultdict
from datetime import date

from sqlalchemy import func, select, text, update

from booking.kit.errors import IdempotencyKeyReused
from booking.kit.fingerprints import fingerprint
from booking.kit.times import nights, utcnow  # noqa: F401 (utcnow: what the service and tests use)
from booking.reservations.exceptions import NoRoomLeft, RoomsSold
from booking.reservations.models import Reservation, RoomCapacity, RoomNight
from booking.reservations.states import HOLDS_ROOMS, TRANSITIONS

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_reference():
    return "BK" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def request_hash(request):
    return fingerprint({key: str(value) for key, value in request.items() if key != "idempotency_key"})


def find_by_key(session, user_id, idempotency_key, fingerprint):
    """The reservation a retried hold made already, or None; a key reused for
    another request is refused."""
    existing = session.scalar(select(Reservation).where(
        Reservation.user_id == user_id, Reservation.idempotency_key == idempotency_key))
    if existing is not None and existing.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return existing


def take_rooms(session, hotel_id, room_type, stay_nights, capacity, rooms=1):
    """Take `rooms` on every night, or none: `NoRoomLeft` if any night is full.

    One conditional UPDATE increments only the nights with room left; if it did not
    reach every night the caller's transaction is rolled back. Both SQLite (one
    writer at a time) and PostgreSQL (rows locked, the condition checked again after
    waiting) make this safe under any concurrency.
    """
    known = set(session.scalars(select(RoomNight.night).where(
        RoomNight.hotel_id == hotel_id, RoomNight.room_type == room_type, RoomNight.night.in_(stay_nights))))
    # a night made now takes the manager's count if there is one, read by the INSERT
    # itself (SQLite: inside the write lock; PostgreSQL: `set_capacity` locks the table)
    managed = select(RoomCapacity.rooms).where(RoomCapacity.hotel_id == hotel_id,
                                               RoomCapacity.room_type == room_type).scalar_subquery()
    session.add_all(RoomNight(hotel_id=hotel_id, room_type=room_type, night=night,
                              capacity=func.coalesce(managed, capacity), held=0)
                    for night in stay_nights if night not in known)
    session.flush()
    taken = session.execute(
        update(RoomNight)
        .where(RoomNight.hotel_id == hotel_id, RoomNight.room_type == room_type,
               RoomNight.night.in_(stay_nights), RoomNight.held + rooms <= RoomNight.capacity)
        .values(held=RoomNight.held + rooms)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != len(stay_nights):
        raise NoRoomLeft(details={"room_type": room_type})


def room_nights(lines):
    """Counter {(room type, night): rooms} of booked rooms (objects or dicts with
    room_type, check_in and check_out)."""
    counted = Counter()
    for line in lines:
        get = line.get if isinstance(line, dict) else lambda name, line=line: getattr(line, name)
        for night in nights(as_date(get("check_in")), as_date(get("check_out"))):
            counted[(get("room_type"), night)] += 1
    return counted


def take_counts(session, hotel_id, counted, capacities):
    """Take every (room type, night): rooms of `counted`, or none (NoRoomLeft)."""
    for (room_type, rooms), stay_nights in _grouped(counted).items():
        take_rooms(session, hotel_id, room_type, stay_nights, capacities[room_type], rooms)


def give_counts(session, hotel_id, counted):
    for (room_type, rooms), stay_nights in _grouped(counted).items():
        session.execute(
            update(RoomNight)
            .where(RoomNight.hotel_id == hotel_id, RoomNight.room_type == room_type,
                   RoomNight.night.in_(stay_nights), RoomNight.held >= rooms)
            .values(held=RoomNight.held - rooms)
            .execution_options(synchronize_session=False)
        )


def _grouped(counted):
    """{(room type, rooms): [nights]}: one UPDATE per group rather than per night."""
    groups = defaultdict(list)
    for (room_type, night), rooms in sorted(counted.items()):
        if rooms > 0:
            groups[(room_type, rooms)].append(night)
    return groups


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


def give_back_rooms(session, reservation):
    give_counts(session, reservation.hotel_id, room_nights(reservation.active_lines))


def move(session, reservation_id, to_status, reason=None, now=None, only_from=None, **changes):
    """Move a reservation to `to_status` if its current state allows it (and is one
    of `only_from`, if given); the rooms go back when it stops holding them.
    Returns the reservation if this call moved it, None if it was already
    elsewhere (so a replayed event changes nothing)."""
    reservation = session.get(Reservation, reservation_id)
    if reservation is None or to_status not in TRANSITIONS.get(reservation.status, ()):
        return None
    if only_from is not None and reservation.status not in only_from:
        return None
    # the conditional UPDATE makes two instances racing for the same move agree
    moved = session.execute(
        update(Reservation)
        .where(Reservation.id == reservation_id, Reservation.status == reservation.status)
        .values(status=to_status, status_reason=reason, updated_at=now or utcnow(),
                version=Reservation.version + (1 if to_status not in HOLDS_ROOMS else 0), **changes)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return None
    was_holding = reservation.status in HOLDS_ROOMS
    session.refresh(reservation)
    if was_holding and to_status not in HOLDS_ROOMS:
        give_back_rooms(session, reservation)
    return reservation


def note_payment_failure(session, reservation_id, failure_code):
    """Note on a hold (only a hold) why a card tried for it was refused."""
    session.execute(update(Reservation)
                    .where(Reservation.id == reservation_id, Reservation.status == "held")
                    .values(last_payment_failure=failure_code or "declined")
                    .execution_options(synchronize_session=False))


def rooms_left(session, hotel_id, room_types, stay_nights):
    """{room type code: rooms free on every night of the stay} for the given
    {code: capacity}."""
    held = {}
    for code, taken in session.execute(
        select(RoomNight.room_type, RoomNight.held).where(
            RoomNight.hotel_id == hotel_id, RoomNight.night.in_(stay_nights))):
        held[code] = max(held.get(code, 0), taken)
    return {code: max(capacity - held.get(code, 0), 0) for code, capacity in room_types.items()}


def expired_holds(session, now, limit=100):
    return list(session.scalars(
        select(Reservation.id).where(Reservation.status == "held", Reservation.expires_at < now).limit(limit)))


def set_capacity(session, hotel_id, room_type, rooms, today):
    """From `today` on, the hotel sells `rooms` of `room_type` a night; RoomsSold
    (nothing changed) if more are sold on some night. Holds racing it never leave a
    night over capacity: each night's UPDATE is conditional, and on PostgreSQL the
    nights' table is locked against new holds until this commits (a hold's INSERT of
    a new night then reads the new count); SQLite has one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE room_nights IN SHARE ROW EXCLUSIVE MODE"))
    # the UPDATE first: on SQLite it takes the write lock, so the nights over the new
    # count are then read with no hold able to commit in between
    session.execute(update(RoomNight).where(
        RoomNight.hotel_id == hotel_id, RoomNight.room_type == room_type, RoomNight.night >= today)
        .values(capacity=rooms).execution_options(synchronize_session=False))
    over = session.execute(select(RoomNight.night, RoomNight.held).where(
        RoomNight.hotel_id == hotel_id, RoomNight.room_type == room_type, RoomNight.night >= today,
        RoomNight.held > rooms).order_by(RoomNight.night)).all()
    if over:  # the caller's transaction is rolled back: nothing changed
        raise RoomsSold(details={"rooms": rooms, "nights": [{"date": night.isoformat(), "sold": held}
                                                            for night, held in over[:60]]})
    known = session.scalar(select(RoomCapacity).where(RoomCapacity.hotel_id == hotel_id,
                                                      RoomCapacity.room_type == room_type))
    if known is None:
        session.add(RoomCapacity(hotel_id=hotel_id, room_type=room_type, rooms=rooms))
    else:
        known.rooms = rooms
    session.flush()


def sold(session, hotel_id, start, end):
    """{room type: {iso night: {"sold", "capacity"}}} of the nights held from
    `start` to `end` (both included)."""
    counts = {}
    for row in session.execute(select(RoomNight.room_type, RoomNight.night, RoomNight.held, RoomNight.capacity)
                               .where(RoomNight.hotel_id == hotel_id, RoomNight.night >= start,
                                      RoomNight.night <= end)):
        counts.setdefault(row.room_type, {})[row.night.isoformat()] = {"sold": row.held, "capacity": row.capacity}
    return counts
