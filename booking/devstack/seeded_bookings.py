"""Existing bookings for a large catalogue (`booking seed --booked-nights M`): confirmed
reservations spread over the hotels, their room types and the next 300 nights,
written as a hold and its confirmation would leave them, into reservations' tables
(the reservation, its booked rooms, the nights' counts a hold checks) and into
search's availability projection (the held stay, the rooms taken each night), so
that a search, a hotel page and a hold all see them.

It lives in the devstack, as the demo accounts do, because it writes two services'
databases, which no service may do for another, and reads the catalogue from
search's database to book only room types that exist, never more rooms on a night
than the hotel has.

Seeded reservations belong to the guest `SEEDED_GUEST` (user id 0: no account has
it, ids start at 1) and their references are `BKO` and 7 digits: the letter O is
not in the alphabet of real references, so no hold can ever take one. Each run
books what is missing to reach M room-nights of the seeded guest: running it
twice books nothing the second time. The stays are drawn from a generator seeded
by the number of the first stay, so the same catalogue, M and first night give
the same bookings.
"""
import random
import sys
from collections import Counter, namedtuple
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from booking.kit import policies
from booking.kit.bulk import insert_rows, settle
from booking.kit.config import db_uri
from booking.kit.database import create_db_engine
from booking.kit.times import nights as nights_of
from booking.reservations.models import BookedRoom, Reservation, RoomCapacity, RoomNight
from booking.search.models import BookedNight, HeldStay, Hotel, RatePlan, RoomType

SEEDED_GUEST = 0
REFERENCE_PREFIX, LAST_NUMBER = "BKO", 9_999_999
SEED = 20261130
NIGHTS_AHEAD = 300
# a stay of 1 to 4 nights, one room, or two of the same type one time in ten
LONGEST_STAY, TWO_ROOMS = 4, 0.1
# draws in a row that find no room before the catalogue counts as full
MAX_MISSES = 10_000
# stays written per batch: bounds the memory a million room-nights take
WRITE_CHUNK = 20_000

Stay = namedtuple("Stay", "number hotel_id room_type check_in check_out rooms")


def reference(number):
    return f"{REFERENCE_PREFIX}{number:07d}"


def plan_stays(room_types, room_nights, first_night, first_number, booked_nights, nights_ahead=NIGHTS_AHEAD):
    """The stays to book to add `booked_nights` room-nights, numbered from
    `first_number`, each of 1 to 4 nights from `first_night` on, never more rooms
    on a night than it has free.

    `room_types`: [(hotel id, code, rooms)] in a stable order; `room_nights`:
    {(hotel id, code, night): (held, capacity)} of the nights already counted (a
    night not in it has the room type's rooms, none held). Plain data in and out:
    the same arguments give the same stays. Fewer room-nights if the catalogue
    fills up first."""
    by_hotel = {}
    for hotel_id, code, rooms in room_types:
        by_hotel.setdefault(hotel_id, []).append((code, rooms))
    hotels = sorted(by_hotel)
    rng = random.Random(SEED + first_number)
    free = {}  # (hotel id, code, night offset): rooms free, for the nights touched so far
    stays, booked, misses = [], 0, 0
    while booked < booked_nights and misses < MAX_MISSES and hotels:
        hotel_id = hotels[rng.randrange(len(hotels))]
        code, rooms_of_type = rng.choice(by_hotel[hotel_id])
        length, rooms = rng.randint(1, min(LONGEST_STAY, nights_ahead)), 2 if rng.random() < TWO_ROOMS else 1
        start = rng.randrange(nights_ahead - length + 1)
        if length * rooms > booked_nights - booked:  # the last stay: exactly what is left
            length, rooms = min(length, booked_nights - booked), 1
        keys = [(hotel_id, code, start + offset) for offset in range(length)]
        for key in keys:
            if key not in free:
                held, capacity = room_nights.get((hotel_id, code, first_night + timedelta(days=key[2])),
                                                 (0, rooms_of_type))
                free[key] = capacity - held
        if any(free[key] < rooms for key in keys):
            misses += 1
            continue
        for key in keys:
            free[key] -= rooms
        check_in = first_night + timedelta(days=start)
        stays.append(Stay(first_number + len(stays), hotel_id, code, check_in, check_in + timedelta(days=length),
                          rooms))
        booked, misses = booked + length * rooms, 0
    return stays


def counted_nights(stays):
    """{(hotel id, room type, night): rooms} of `stays`, in that order: rows written
    in the order of their unique index go in two to three times faster."""
    counted = Counter()
    for stay in stays:
        for night in nights_of(stay.check_in, stay.check_out):
            counted[(stay.hotel_id, stay.room_type, night)] += stay.rooms
    return dict(sorted(counted.items()))


def reservation_rows(stay, hotel, room, now):
    """The rows a hold and its confirmation would leave for `stay`: (the
    reservation, [its booked rooms]). `hotel` and `room` are the catalogue's facts
    (`Catalogue`). Each night costs the flexible plan's base price: the calendar's
    seasons are not applied, these are not quotes (`quote` stays null)."""
    stay_nights = nights_of(stay.check_in, stay.check_out)
    adults = min(2, room["max_guests"])
    price = room["price_minor"] * len(stay_nights)
    city_tax = hotel["city_tax_minor"] * adults * len(stay_nights)
    policy = room["policy"]
    deadline = policies.deadline(policy, stay.check_in, hotel["check_in_time"], hotel["timezone"])
    penalty = policies.penalty_after_deadline(policy, [room["price_minor"]] * len(stay_nights), price)
    key = reference(stay.number)
    lines = [{
        "reservation_id": key, "line": line, "room_type": stay.room_type, "room_name": room["name"],
        "rate_plan": "flexible", "rate_plan_name": room["plan_name"], "adults": adults, "children": [],
        "check_in": stay.check_in, "check_out": stay.check_out,
        "nights": [{"date": night.isoformat(), "price_minor": room["price_minor"]} for night in stay_nights],
        "price_minor": price, "city_tax_minor": city_tax, "total_minor": price + city_tax, "policy": policy,
        "deadline": deadline, "penalty_minor": penalty, "status": "active", "refund_minor": None,
        "kept_minor": None,
    } for line in range(1, stay.rooms + 1)]
    reservation = {
        "id": key, "user_id": SEEDED_GUEST, "idempotency_key": key, "request_hash": "seeded",
        "hotel_id": stay.hotel_id, "hotel_name": hotel["name"], "hotel_address": hotel["address"],
        "room_type": stay.room_type, "room_name": room["name"], "check_in": stay.check_in,
        "check_out": stay.check_out, "guests": adults * stay.rooms, "rooms": stay.rooms,
        "nightly_price_minor": room["price_minor"], "total_minor": (price + city_tax) * stay.rooms,
        "currency": hotel["currency"], "city_tax_minor": city_tax * stay.rooms, "kept_minor": 0,
        "refund_minor": 0, "quote": None, "timezone": hotel["timezone"], "check_in_time": hotel["check_in_time"],
        "version": 1, "changing": None, "status": "confirmed", "status_reason": "seeded", "expires_at": now,
        "created_at": now, "updated_at": now, "payment_id": None, "last_payment_failure": None,
        "refunded": False, "confirmation_pdf": None,
    }
    return reservation, lines


def held_stay_row(reservation_id, hotel_id, room_type, check_in, check_out, rooms):
    """search's record of a reservation, as its `reservation_held` event (version 1)
    leaves it (booking/search/availability.py)."""
    return {"reservation_id": reservation_id, "hotel_id": hotel_id, "room_type": room_type, "check_in": check_in,
            "check_out": check_out, "rooms": rooms, "active": True, "version": 1,
            "holding": [{"room_type": room_type, "check_in": check_in.isoformat(),
                         "check_out": check_out.isoformat(), "count": rooms}]}


class Catalogue:
    """What the bookings need of search's catalogue: each hotel's facts, and each
    room type's rooms, price and flexible plan (a room type without one is not
    booked)."""

    def __init__(self, session):
        self.hotels, self.rooms = {}, {}
        query = (select(Hotel.id, Hotel.name, Hotel.address, Hotel.timezone, Hotel.check_in_time, Hotel.currency,
                        Hotel.city_tax_minor, RoomType.code, RoomType.name.label("room_name"), RoomType.max_guests,
                        RoomType.room_count, RoomType.price_minor, RatePlan.name.label("plan_name"),
                        RatePlan.free_until_hours, RatePlan.penalty, RatePlan.penalty_percent)
                 .join(RoomType, RoomType.hotel_id == Hotel.id)
                 .join(RatePlan, (RatePlan.room_type_id == RoomType.id) & (RatePlan.code == "flexible"))
                 .order_by(Hotel.id, RoomType.id))
        for row in session.execute(query):
            if row.id not in self.hotels:
                self.hotels[row.id] = {"name": row.name, "address": row.address, "timezone": row.timezone,
                                       "check_in_time": row.check_in_time, "currency": row.currency,
                                       "city_tax_minor": row.city_tax_minor}
            self.rooms[(row.id, row.code)] = {
                "name": row.room_name, "max_guests": row.max_guests, "rooms": row.room_count,
                "price_minor": row.price_minor, "plan_name": row.plan_name,
                "policy": {"free_until_hours": row.free_until_hours, "penalty": row.penalty,
                           "penalty_percent": row.penalty_percent}}

        # held here, zoneinfo's cache keeps every zone loaded: each stay's deadline asks for one
        self.zones = [ZoneInfo(zone) for zone in {hotel["timezone"] for hotel in self.hotels.values()}]

    def room_types(self, capacities):
        """[(hotel id, code, rooms)]: the manager's count (`capacities`) where there is one."""
        return [(hotel_id, code, capacities.get((hotel_id, code), room["rooms"]))
                for (hotel_id, code), room in self.rooms.items()]


def seed_bookings(config, booked_nights, first_night=None, nights_ahead=NIGHTS_AHEAD, out=sys.stdout):
    """Book what is missing to reach `booked_nights` room-nights of the seeded guest,
    over `nights_ahead` nights from `first_night` (default tomorrow); then give
    search's projection every seeded reservation it lacks. Returns how many
    reservations were added."""
    first_night = first_night or date.today() + timedelta(days=1)
    search = create_db_engine(db_uri(config, "search"))
    reservations = create_db_engine(db_uri(config, "reservations"))
    try:
        with Session(search) as session:
            catalogue = Catalogue(session)
        with Session(reservations) as session, session.begin():
            seeded = [Stay(*row) for row in session.execute(
                select(Reservation.id, Reservation.hotel_id, Reservation.room_type, Reservation.check_in,
                       Reservation.check_out, Reservation.rooms).where(Reservation.user_id == SEEDED_GUEST))]
            added = _book(session, catalogue, seeded, booked_nights, first_night, nights_ahead)
        with Session(search) as session, session.begin():
            projected = _project(session, seeded + [stay._replace(number=reference(stay.number))
                                                    for stay in added])
        if added:
            settle(reservations)
        if projected:
            settle(search)
    finally:
        search.dispose()
        reservations.dispose()
    print(f"Seeded bookings: {len(added)} new reservations, {projected} new in search's projection", file=out,
          flush=True)
    return len(added)


def _book(session, catalogue, seeded, booked_nights, first_night, nights_ahead):
    """Plan and write the stays missing to reach `booked_nights` (`seeded`: those
    written before, each numbered by its reference); return them."""
    booked = sum(stay.rooms * (stay.check_out - stay.check_in).days for stay in seeded)
    if booked >= booked_nights:
        return []
    last_night = first_night + timedelta(days=nights_ahead)
    room_nights = {(row.hotel_id, row.room_type, row.night): (row.held, row.capacity) for row in session.execute(
        select(RoomNight.hotel_id, RoomNight.room_type, RoomNight.night, RoomNight.held, RoomNight.capacity)
        .where(RoomNight.night >= first_night, RoomNight.night < last_night))}
    capacities = {(row.hotel_id, row.room_type): row.rooms for row in session.execute(
        select(RoomCapacity.hotel_id, RoomCapacity.room_type, RoomCapacity.rooms))}
    room_types = catalogue.room_types(capacities)
    first_number = max((int(stay.number[len(REFERENCE_PREFIX):]) for stay in seeded), default=0) + 1
    stays = plan_stays(room_types, room_nights, first_night, first_number, booked_nights - booked, nights_ahead)
    if stays and stays[-1].number > LAST_NUMBER:
        raise ValueError(f"at most {LAST_NUMBER:,} seeded reservations ({reference(1)} to {reference(LAST_NUMBER)})")
    now = datetime.now(UTC)
    remaining = iter(stays)
    while chunk := list(islice(remaining, WRITE_CHUNK)):
        rows, lines = [], []
        for stay in chunk:
            reservation, booked_rooms = reservation_rows(stay, catalogue.hotels[stay.hotel_id],
                                                         catalogue.rooms[(stay.hotel_id, stay.room_type)], now)
            rows.append(reservation)
            lines += booked_rooms
        insert_rows(session, Reservation.__table__, rows)
        insert_rows(session, BookedRoom.__table__, lines)
    counted = counted_nights(stays)
    # a night no hold has touched is made as a hold makes it: the manager's count, else the room type's
    rooms_of = {(hotel_id, code): rooms for hotel_id, code, rooms in room_types}
    insert_rows(session, RoomNight.__table__, [
        {"hotel_id": hotel_id, "room_type": code, "night": night, "capacity": rooms_of[(hotel_id, code)],
         "held": rooms}
        for (hotel_id, code, night), rooms in counted.items() if (hotel_id, code, night) not in room_nights])
    _add_counts(session, RoomNight.__table__, "held",
                {key: rooms for key, rooms in counted.items() if key in room_nights})
    return stays


def _add_counts(session, table, column, counts):
    """Add each count of {(hotel id, room type, night): rooms} to `column` of its row."""
    if not counts:
        return
    session.connection().execute(
        update(table)
        .where(table.c.hotel_id == bindparam("key_hotel"), table.c.room_type == bindparam("key_room"),
               table.c.night == bindparam("key_night"))
        .values({column: table.c[column] + bindparam("rooms")}),
        [{"key_hotel": hotel_id, "key_room": code, "key_night": night, "rooms": rooms}
         for (hotel_id, code, night), rooms in counts.items()])


def _project(session, seeded):
    """Give search's projection the seeded reservations it lacks (`seeded`: stays
    numbered by their reference), as `availability.follow` would from their
    `reservation_held` events."""
    known = set(session.scalars(select(HeldStay.reservation_id)
                                .where(HeldStay.reservation_id.startswith(REFERENCE_PREFIX))))
    missing = [stay for stay in seeded if stay.number not in known]
    if not missing:
        return 0
    insert_rows(session, HeldStay.__table__, [held_stay_row(*stay) for stay in missing])
    counted = counted_nights(missing)
    first, last = min(night for _, _, night in counted), max(night for _, _, night in counted)
    existing = {(row.hotel_id, row.room_type, row.night) for row in session.execute(
        select(BookedNight.hotel_id, BookedNight.room_type, BookedNight.night)
        .where(BookedNight.night >= first, BookedNight.night <= last))}
    city_keys = dict(session.execute(select(Hotel.id, Hotel.city_key)).all())  # every hotel: no list of ids to bind
    insert_rows(session, BookedNight.__table__, [
        {"hotel_id": hotel_id, "city_key": city_keys.get(hotel_id, ""), "room_type": code, "night": night,
         "taken": rooms}
        for (hotel_id, code, night), rooms in counted.items() if (hotel_id, code, night) not in existing])
    _add_counts(session, BookedNight.__table__, "taken",
                {key: rooms for key, rooms in counted.items() if key in existing})
    return len(missing)
