"""`booking seed --hotels N --booked-nights M`: a catalogue 40 times larger, and
bookings that a search, a hotel page and a hold all see, on SQLite files."""
import hashlib
import io
import json
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.devstack import seeded_bookings
from booking.devstack.seeded_bookings import SEEDED_GUEST, plan_stays, seed_bookings
from booking.kit.database import create_db_engine
from booking.kit.migrations import seed_all, upgrade
from booking.reservations import holds
from booking.reservations.exceptions import NoRoomLeft
from booking.reservations.models import BookedRoom, Reservation, RoomNight
from booking.search import availability
from booking.search.models import BookedNight, HeldStay, Hotel, RatePlan, RateRule, RoomType
from booking.search.seed import CITIES, DEMO_HOTELS, as_hotel, city_of, demo_catalogue, demo_hotels, more_hotel
from tests.conftest import add_small_catalogue

# sha256 of the 2,475 demo hotels as `demo_hotels()` made them before larger
# catalogues (every column of the hotel, its room types, plans and calendar)
DEMO_CATALOGUE_SHA256 = "f29ebb07036d908c1d29ca2395cc82b3f0687921f1e2f32fe2b50a3caf07a229"
FIRST_NIGHT = date(2031, 3, 3)


def described(hotel):
    return [hotel.id, hotel.name, hotel.address, hotel.city, hotel.city_key, hotel.country, hotel.stars,
            hotel.description, hotel.amenities, hotel.timezone, hotel.check_in_time, hotel.check_out_time,
            hotel.currency, hotel.vat_basis_points, hotel.city_tax_minor, hotel.policies_text,
            [[room.code, room.name, room.max_guests, room.max_occupancy, room.room_count, room.price_minor,
              room.currency, [[plan.code, plan.name, plan.price_minor, plan.free_until_hours, plan.penalty,
                               plan.penalty_percent] for plan in room.rate_plans]]
             for room in hotel.room_types],
            [[rule.name, rule.room_type, rule.rate_plan, rule.starts.isoformat(), rule.ends.isoformat(),
              rule.every_year, rule.weekdays, rule.price_minor, rule.adjust_percent, rule.adjust_minor, rule.closed,
              rule.closed_to_arrival, rule.min_stay, rule.max_stay] for rule in hotel.rate_rules]]


def test_the_first_2475_demo_hotels_are_exactly_as_before():
    hotels = [described(hotel) for hotel in demo_hotels()]
    assert len(hotels) == DEMO_HOTELS == 2475
    assert hashlib.sha256(json.dumps(hotels, ensure_ascii=False).encode()).hexdigest() == DEMO_CATALOGUE_SHA256


def test_a_hotel_beyond_the_demo_catalogue_does_not_depend_on_how_many_are_asked_for():
    few = list(demo_catalogue(DEMO_HOTELS + 30))
    many = list(demo_catalogue(DEMO_HOTELS + 300))
    assert [hotel["id"] for hotel in many] == list(range(1, DEMO_HOTELS + 301))
    assert few == many[:DEMO_HOTELS + 30]
    assert more_hotel(DEMO_HOTELS + 7) == many[DEMO_HOTELS + 6]
    # each its own: not one hotel copied over and over
    assert len({(hotel["name"], hotel["address"], hotel["stars"]) for hotel in many[DEMO_HOTELS:]}) > 290


def test_hotels_beyond_the_demo_catalogue_keep_each_citys_share_in_any_number():
    for extra in (250, 2475, 22525, 97525):
        counted = Counter(city_of(hotel_id) for hotel_id in range(DEMO_HOTELS + 1, DEMO_HOTELS + extra + 1))
        for index, (city, _, count, _) in enumerate(CITIES):
            assert abs(counted[index] - extra * count / DEMO_HOTELS) < 2, (extra, city)
    assert [hotel["city"] for hotel in demo_catalogue(DEMO_HOTELS + 100)][DEMO_HOTELS:] == [
        CITIES[city_of(hotel_id)][0] for hotel_id in range(DEMO_HOTELS + 1, DEMO_HOTELS + 101)]


def count(uri, model, *where):
    engine = create_db_engine(uri)
    with Session(engine) as session:
        found = session.scalar(select(func.count()).select_from(model).where(*where))
    engine.dispose()
    return found


def test_seeding_more_hotels_inserts_what_the_generator_makes_and_nothing_twice(tmp_path):
    uri = f"sqlite:///{tmp_path}/search.db"
    upgrade("search", uri)
    config, out = {"DB_URIS": {"search": uri}}, io.StringIO()
    seed_all(config, out)
    seed_all(config, out, options={"search": {"hotels": DEMO_HOTELS + 40}})
    seed_all(config, out, options={"search": {"hotels": DEMO_HOTELS + 40}})
    assert out.getvalue().splitlines() == [
        "Seeded search: 2475 new records", "Seeded search: 40 new records", "Seeded search: 0 new records"]
    records = list(demo_catalogue(DEMO_HOTELS + 40))
    assert count(uri, Hotel) == len(records)
    assert count(uri, RoomType) == sum(len(record["room_types"]) for record in records)
    assert count(uri, RatePlan) == sum(len(room["rate_plans"]) for record in records for room in record["room_types"])
    assert count(uri, RateRule) == sum(len(record["rate_rules"]) for record in records)
    engine = create_db_engine(uri)
    with Session(engine) as session:
        for hotel_id in (1, DEMO_HOTELS, DEMO_HOTELS + 1, DEMO_HOTELS + 40):
            assert in_any_order(described(session.get(Hotel, hotel_id))) == in_any_order(
                described(as_hotel(records[hotel_id - 1])))
    engine.dispose()


def in_any_order(description):
    """A hotel's description with its room types sorted: read back, they come by price."""
    *hotel, rooms, rules = description
    return [*hotel, sorted(rooms), rules]


@pytest.fixture
def databases(tmp_path):
    """search (the small catalogue of tests/conftest.py) and reservations, migrated."""
    uris = {service: f"sqlite:///{tmp_path}/{service}.db" for service in ("search", "reservations")}
    for service, uri in uris.items():
        upgrade(service, uri)
    add_small_catalogue(uris["search"])
    return {"DB_URIS": uris}


def rows(config, service, *columns, where=()):
    engine = create_db_engine(config["DB_URIS"][service])
    with Session(engine) as session:
        found = session.execute(select(*columns).where(*where)).all()
    engine.dispose()
    return found


def test_seeded_bookings_agree_between_reservations_and_search_and_are_made_once(databases):
    out = io.StringIO()
    added = seed_bookings(databases, 3000, first_night=FIRST_NIGHT, out=out)
    assert seed_bookings(databases, 3000, first_night=FIRST_NIGHT, out=out) == 0
    assert out.getvalue().splitlines()[-1] == "Seeded bookings: 0 new reservations, 0 new in search's projection"

    reservations = rows(databases, "reservations", Reservation.id, Reservation.user_id, Reservation.status,
                        Reservation.rooms, Reservation.check_in, Reservation.check_out, Reservation.hotel_id,
                        Reservation.room_type)
    assert len(reservations) == added > 500
    assert all(re.fullmatch(r"BKO\d{7}", r.id) and r.user_id == SEEDED_GUEST and r.status == "confirmed"
               for r in reservations)
    assert sum(r.rooms * (r.check_out - r.check_in).days for r in reservations) == 3000
    assert all(FIRST_NIGHT <= r.check_in < r.check_out <= FIRST_NIGHT + timedelta(days=300) for r in reservations)
    lines = Counter(reservation_id for reservation_id, in rows(databases, "reservations", BookedRoom.reservation_id))
    assert lines == {r.id: r.rooms for r in reservations}

    nights = {(n.hotel_id, n.room_type, n.night): (n.held, n.capacity) for n in rows(
        databases, "reservations", RoomNight.hotel_id, RoomNight.room_type, RoomNight.night, RoomNight.held,
        RoomNight.capacity)}
    assert sum(held for held, _ in nights.values()) == 3000
    assert all(held <= capacity for held, capacity in nights.values())
    taken = {(n.hotel_id, n.room_type, n.night): n.taken for n in rows(
        databases, "search", BookedNight.hotel_id, BookedNight.room_type, BookedNight.night, BookedNight.taken)}
    assert taken == {key: held for key, (held, _) in nights.items()}
    stays = rows(databases, "search", HeldStay.reservation_id, HeldStay.hotel_id, HeldStay.room_type,
                 HeldStay.check_in, HeldStay.check_out, HeldStay.rooms, HeldStay.active, HeldStay.version)
    assert sorted(stays) == sorted((r.id, r.hotel_id, r.room_type, r.check_in, r.check_out, r.rooms, True, 1)
                                   for r in reservations)


def test_more_booked_nights_later_add_only_the_difference(databases):
    seed_bookings(databases, 400, first_night=FIRST_NIGHT, out=io.StringIO())
    seed_bookings(databases, 1000, first_night=FIRST_NIGHT + timedelta(days=9), out=io.StringIO())
    [(booked,)] = rows(databases, "reservations", func.sum(RoomNight.held))
    [(taken,)] = rows(databases, "search", func.sum(BookedNight.taken))
    assert booked == taken == 1000
    assert len(rows(databases, "search", HeldStay.reservation_id)) == len(
        rows(databases, "reservations", Reservation.id))


def test_a_full_catalogue_is_booked_to_its_last_room_and_then_a_hold_and_a_search_find_none(databases):
    # two nights of the small catalogue hold 2 × 61 rooms: ask for more
    seed_bookings(databases, 1000, first_night=FIRST_NIGHT, nights_ahead=2, out=io.StringIO())
    nights = rows(databases, "reservations", RoomNight.held, RoomNight.capacity)
    assert sum(held for held, _ in nights) == 2 * 61 and all(held == capacity for held, capacity in nights)

    search = create_db_engine(databases["DB_URIS"]["search"])
    with Session(search) as session:
        # Le Petit Paris: 6 double rooms, all taken both nights
        assert availability.rooms_taken(session, 3, FIRST_NIGHT, FIRST_NIGHT + timedelta(days=2)) == {"double": 6}
    search.dispose()
    engine = create_db_engine(databases["DB_URIS"]["reservations"])
    with Session(engine) as session, pytest.raises(NoRoomLeft):
        holds.take_rooms(session, 3, "double", [FIRST_NIGHT + timedelta(days=1)], capacity=6)
    engine.dispose()


def test_stays_are_planned_the_same_way_every_time_and_never_beyond_the_rooms_free():
    room_types = [(1, "double", 3), (1, "suite", 1), (2, "double", 2)]
    already = {(1, "double", FIRST_NIGHT): (3, 3), (2, "double", FIRST_NIGHT + timedelta(days=1)): (1, 2)}
    stays = plan_stays(room_types, already, FIRST_NIGHT, 1, 100, nights_ahead=4)
    assert stays == plan_stays(room_types, already, FIRST_NIGHT, 1, 100, nights_ahead=4)
    assert [stay.number for stay in stays] == list(range(1, len(stays) + 1))
    booked = Counter(seeded_bookings.counted_nights(stays))
    for (hotel_id, code, night), (held, _) in already.items():
        booked[(hotel_id, code, night)] += held
    rooms = {(hotel_id, code): count for hotel_id, code, count in room_types}
    assert all(booked[key] <= rooms[key[:2]] for key in booked)
    # 6 rooms a night, 4 nights: every one is taken, by the stays or before them
    assert sum(booked.values()) == 4 * 6
