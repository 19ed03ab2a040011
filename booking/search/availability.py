"""The availability projection, kept from reservations' events.

Each reservation is recorded once (`HeldStay`) with what it holds and the version
of the reservation that said so; only a newer version changes the counts, so a
redelivered event changes nothing.
"""
from datetime import date

from sqlalchemy import bindparam, func, select, update

from booking.kit.times import nights
from booking.search.models import BookedNight, HeldStay, Hotel


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


# an ending event from before events carried a version outranks any start
ENDED = 2**30


def holding_of(event, ended):
    """(version, [{room_type, check_in, check_out, count}]) that an event says the
    reservation holds now. Events from before several rooms carry one room type,
    and no version: a start is version 1, an end (`ended`) outranks it."""
    if "version" in event and "holding" in event:
        return event["version"], event["holding"]
    if not ended:
        return 1, [{"room_type": event["room_type"], "check_in": event["check_in"],
                    "check_out": event["check_out"], "count": event["rooms"]}]
    return ENDED, []


def follow(session, event, ended=False):
    """Apply what a reservation event says the reservation holds now. Only a newer
    version than the one applied changes anything, so a redelivered or late event
    (an end before its start, an old change after a newer one) counts nothing twice.
    True if the availability changed."""
    version, holding = holding_of(event, ended)
    stay = session.get(HeldStay, event["reservation_id"])
    if stay is not None and stay.version >= version:
        return False
    before = stay.holding if stay is not None else []
    if stay is None:
        stay = HeldStay(reservation_id=event["reservation_id"], hotel_id=event["hotel_id"])
        session.add(stay)
    first = holding[0] if holding else {"room_type": event["room_type"], "check_in": event["check_in"],
                                        "check_out": event["check_out"], "count": event.get("rooms", 1)}
    stay.room_type, stay.rooms = first["room_type"], first["count"]
    stay.check_in, stay.check_out = as_date(first["check_in"]), as_date(first["check_out"])
    stay.active, stay.version, stay.holding = bool(holding), version, holding
    city_key = session.scalar(select(Hotel.city_key).where(Hotel.id == stay.hotel_id)) or ""
    for line in before:
        _count(session, stay.hotel_id, city_key, line, -line["count"])
    for line in holding:
        _count(session, stay.hotel_id, city_key, line, +line["count"])
    return bool(before or holding)


def _count(session, hotel_id, city_key, line, delta):
    stay_nights = nights(as_date(line["check_in"]), as_date(line["check_out"]))
    room_type = line["room_type"]
    known = set(session.scalars(select(BookedNight.night).where(
        BookedNight.hotel_id == hotel_id, BookedNight.room_type == room_type,
        BookedNight.night.in_(stay_nights))))
    session.add_all(BookedNight(hotel_id=hotel_id, city_key=city_key, room_type=room_type, night=night, taken=0)
                    for night in stay_nights if night not in known)
    session.flush()
    session.execute(
        update(BookedNight)
        .where(BookedNight.hotel_id == hotel_id, BookedNight.room_type == room_type,
               BookedNight.night.in_(stay_nights))
        .values(taken=BookedNight.taken + delta)
        .execution_options(synchronize_session=False))


# the reads of every search and hotel page, built once: building a statement costs
# more than SQLite takes to run it (0.2 ms against 0.04)
TAKEN_IN_STAY = (select(BookedNight.hotel_id, BookedNight.room_type, func.max(BookedNight.taken))
                 .where(BookedNight.night >= bindparam("check_in"), BookedNight.night < bindparam("check_out"),
                        BookedNight.taken > 0)
                 .group_by(BookedNight.hotel_id, BookedNight.room_type))
TAKEN_IN_CITY = TAKEN_IN_STAY.where(BookedNight.city_key == bindparam("city_key"))
TAKEN_IN_HOTEL = TAKEN_IN_STAY.where(BookedNight.hotel_id == bindparam("hotel_id"))


def rooms_taken_in(session, city_key, check_in, check_out):
    """{(hotel id, room type code): most rooms taken on any night of the stay} in a
    city (`city_key` as `fold` makes it; every city if None): only what is booked
    in the city, from the index alone (0.2 ms for London among 100,000 hotels and a
    million booked room-nights, where reaching the city through its hotels took 12)."""
    stay = {"check_in": check_in, "check_out": check_out}
    rows = (session.execute(TAKEN_IN_STAY, stay) if city_key is None
            else session.execute(TAKEN_IN_CITY, {**stay, "city_key": city_key}))
    return {(hotel_id, code): taken for hotel_id, code, taken in rows}


def rooms_taken(session, hotel_id, check_in, check_out):
    """{room type code: most rooms taken on any night of the stay}."""
    return {code: taken for _, code, taken in session.execute(
        TAKEN_IN_HOTEL, {"hotel_id": hotel_id, "check_in": check_in, "check_out": check_out})}
