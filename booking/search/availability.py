"""The availability projection, kept from reservations' events.

Each reservation is recorded once (`HeldStay`) with what it holds and the version
of the reservation that said so; only a newer version changes the counts, so a
redelivered event changes nothing.
"""
import time
from datetime import date, timedelta

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
    TAKEN.forget_nights(nights(as_date(line["check_in"]), as_date(line["check_out"])) for line in before + holding)
    for line in before:
        _count(session, stay.hotel_id, line, -line["count"])
    for line in holding:
        _count(session, stay.hotel_id, line, +line["count"])
    return bool(before or holding)


def _count(session, hotel_id, line, delta):
    stay_nights = nights(as_date(line["check_in"]), as_date(line["check_out"]))
    room_type = line["room_type"]
    known = set(session.scalars(select(BookedNight.night).where(
        BookedNight.hotel_id == hotel_id, BookedNight.room_type == room_type,
        BookedNight.night.in_(stay_nights))))
    session.add_all(BookedNight(hotel_id=hotel_id, room_type=room_type, night=night, taken=0)
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
TAKEN_ON_NIGHTS = (select(BookedNight.hotel_id, BookedNight.room_type, BookedNight.night, BookedNight.taken)
                   .where(BookedNight.night >= bindparam("check_in"), BookedNight.night < bindparam("check_out"),
                          BookedNight.taken > 0))
TAKEN_ON_NIGHTS_IN_CITY = TAKEN_ON_NIGHTS.join(Hotel, Hotel.id == BookedNight.hotel_id).where(
    Hotel.city_key == bindparam("city_key"))
TAKEN_IN_HOTEL = (select(BookedNight.room_type, func.max(BookedNight.taken))
                  .where(BookedNight.hotel_id == bindparam("hotel_id"), BookedNight.night >= bindparam("check_in"),
                         BookedNight.night < bindparam("check_out"), BookedNight.taken > 0)
                  .group_by(BookedNight.room_type))
# how long a search may read the rooms taken in a city on a night, when no event said
# they changed
TAKEN_SECONDS = 15
# a city's nights kept before those too old are dropped
KEPT_NIGHTS = 500


class TakenNights:
    """The rooms taken in each city, night by night, as searches read them, kept for
    a while in this process: a search of a city of thousands of hotels would read
    thousands of booked rows each time. A night is forgotten when this process
    follows a reservation event that touches it (`follow`), a city when any instance
    announces that availability in it changed (`hotel_updated`, which every
    instance receives); and each is read again after `seconds` in any case."""

    def __init__(self, seconds=TAKEN_SECONDS, clock=time.monotonic):
        self.seconds, self.clock, self.cities = seconds, clock, {}

    def in_stay(self, session, city_key, check_in, check_out):
        """{(hotel id, room type code): most rooms taken on any night of the stay} in a
        city (`city_key` as `fold` makes it; every city if None)."""
        now, stay = self.clock(), nights(check_in, check_out)
        kept = self.cities.setdefault((session.get_bind().url, city_key), {})  # {night: (taken, until)}
        missing = [night for night in stay if kept.get(night, (None, 0))[1] <= now]
        if missing:
            if len(kept) > KEPT_NIGHTS:
                for night in [night for night, (_, until) in kept.items() if until <= now]:
                    del kept[night]
            read = {night: {} for night in nights(missing[0], missing[-1] + timedelta(days=1))}
            parameters = {"check_in": missing[0], "check_out": missing[-1] + timedelta(days=1), "city_key": city_key}
            for hotel_id, room_type, night, taken in session.execute(
                    TAKEN_ON_NIGHTS if city_key is None else TAKEN_ON_NIGHTS_IN_CITY, parameters):
                read[as_date(night)][(hotel_id, room_type)] = taken
            kept.update((night, (taken, now + self.seconds)) for night, taken in read.items())
        most = {}
        for night in stay:
            for room, taken in kept[night][0].items():
                if taken > most.get(room, 0):
                    most[room] = taken
        return most

    def forget_nights(self, forgotten):
        """Forget these nights (an iterable of lists of dates) in every city."""
        forgotten = {night for some in forgotten for night in some}
        for kept in self.cities.values():
            for night in forgotten:
                kept.pop(night, None)

    def forget_city(self, city_key):
        """Forget a city's nights (and those of every city together); every city's if None."""
        for (_, key), kept in self.cities.items():
            if city_key is None or key in (city_key, None):
                kept.clear()


TAKEN = TakenNights()


def rooms_taken_in(session, city_key, check_in, check_out):
    """{(hotel id, room type code): most rooms taken on any night of the stay} in a
    city (`city_key` as `fold` makes it; every city if None), as `TAKEN` keeps it."""
    return TAKEN.in_stay(session, city_key, check_in, check_out)


def rooms_taken(session, hotel_id, check_in, check_out):
    """{room type code: most rooms taken on any night of the stay}."""
    return dict(session.execute(TAKEN_IN_HOTEL, {"hotel_id": hotel_id, "check_in": check_in,
                                                 "check_out": check_out}).all())
