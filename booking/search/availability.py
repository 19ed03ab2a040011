"""The availability projection, kept from reservations' events.

Each reservation is recorded once (`HeldStay`); a stay starts or stops taking
rooms only when its `active` flag flips, so a redelivered event changes nothing.
"""
from datetime import date

from sqlalchemy import and_, exists, select, update

from booking.kit.times import nights
from booking.search.models import BookedNight, HeldStay, RoomType


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


def start(session, event):
    """A reservation took rooms (held). True if that changed the availability."""
    if session.get(HeldStay, event["reservation_id"]) is not None:
        return False
    stay = HeldStay(reservation_id=event["reservation_id"], hotel_id=event["hotel_id"],
                    room_type=event["room_type"], check_in=as_date(event["check_in"]),
                    check_out=as_date(event["check_out"]), rooms=event["rooms"], active=True)
    session.add(stay)
    _count(session, stay, +stay.rooms)
    return True


def stop(session, event):
    """A reservation gave its rooms back (cancelled, expired). True if that changed
    the availability."""
    stay = session.get(HeldStay, event["reservation_id"])
    if stay is None:
        # the end arrived before the start: remember it as ended, so a late start counts nothing
        session.add(HeldStay(reservation_id=event["reservation_id"], hotel_id=event["hotel_id"],
                             room_type=event["room_type"], check_in=as_date(event["check_in"]),
                             check_out=as_date(event["check_out"]), rooms=event["rooms"], active=False))
        return False
    if not stay.active:
        return False
    stay.active = False
    _count(session, stay, -stay.rooms)
    return True


def _count(session, stay, delta):
    stay_nights = nights(stay.check_in, stay.check_out)
    known = set(session.scalars(select(BookedNight.night).where(
        BookedNight.hotel_id == stay.hotel_id, BookedNight.room_type == stay.room_type,
        BookedNight.night.in_(stay_nights))))
    session.add_all(BookedNight(hotel_id=stay.hotel_id, room_type=stay.room_type, night=night, taken=0)
                    for night in stay_nights if night not in known)
    session.flush()
    session.execute(
        update(BookedNight)
        .where(BookedNight.hotel_id == stay.hotel_id, BookedNight.room_type == stay.room_type,
               BookedNight.night.in_(stay_nights))
        .values(taken=BookedNight.taken + delta)
        .execution_options(synchronize_session=False))


def full_on_some_night(check_in, check_out):
    """SQL condition: this room type is full on at least one night of the stay."""
    return exists().where(and_(
        BookedNight.hotel_id == RoomType.hotel_id, BookedNight.room_type == RoomType.code,
        BookedNight.night >= check_in, BookedNight.night < check_out,
        BookedNight.taken >= RoomType.room_count))


def rooms_taken(session, hotel_id, check_in, check_out):
    """{room type code: most rooms taken on any night of the stay}."""
    taken = {}
    for code, count in session.execute(select(BookedNight.room_type, BookedNight.taken).where(
            BookedNight.hotel_id == hotel_id, BookedNight.night >= check_in, BookedNight.night < check_out)):
        taken[code] = max(taken.get(code, 0), count)
    return taken
