"""`booking seed --hotels N --booked-nights M` on SQLite and PostgreSQL (COPY there):
the rows read back are the generator's, and a seeded reservation reads as a
confirmed booking does."""
import io
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.devstack.seeded_bookings import SEEDED_GUEST, seed_bookings
from booking.kit.database import create_db_engine
from booking.kit.migrations import seed_all
from booking.reservations.models import Reservation, RoomNight
from booking.reservations.schemas import ReservationSchema
from booking.search.models import BookedNight, Hotel
from booking.search.seed import DEMO_HOTELS, as_hotel, demo_catalogue
from tests.unit.test_large_catalogue_seed import described, in_any_order

FIRST_NIGHT = date.today() + timedelta(days=1)


def test_seeded_hotels_and_bookings_read_back_as_generated_on_both_databases(db_uris):
    config = {"DB_URIS": db_uris}
    # the small catalogue holds hotels 1 to 4: the seed adds 5 to 2,480
    seed_all(config, io.StringIO(), options={"search": {"hotels": DEMO_HOTELS + 5}})
    added = seed_bookings(config, 2000, first_night=FIRST_NIGHT, out=io.StringIO())

    search = create_db_engine(db_uris["search"])
    with Session(search) as session:
        for hotel_id in (5, DEMO_HOTELS + 5):
            expected = as_hotel(list(demo_catalogue(hotel_id))[-1])
            assert in_any_order(described(session.get(Hotel, hotel_id))) == in_any_order(described(expected))
        taken = session.scalar(select(func.sum(BookedNight.taken)))
        # each booked night carries its hotel's city, as a city's search reads them
        misplaced = session.scalar(select(func.count()).select_from(BookedNight).join(
            Hotel, Hotel.id == BookedNight.hotel_id).where(BookedNight.city_key != Hotel.city_key))
    search.dispose()
    reservations = create_db_engine(db_uris["reservations"])
    with Session(reservations) as session:
        held = session.scalar(select(func.sum(RoomNight.held)))
        over = session.scalar(select(func.count()).where(RoomNight.held > RoomNight.capacity))
        first = session.get(Reservation, "BKO0000001")
        shown = ReservationSchema().dump(first)
        count = session.scalar(select(func.count()).where(Reservation.user_id == SEEDED_GUEST))
    reservations.dispose()

    assert held == taken == 2000 and over == 0 and count == added and misplaced == 0
    assert shown["status"] == "confirmed" and shown["user_id"] == SEEDED_GUEST
    [room] = shown["booked_rooms"] if shown["rooms"] == 1 else shown["booked_rooms"][:1]
    assert len(room["nights"]) == shown["nights"] and room["rate_plan"] == "flexible"
    assert room["cancellation_policy"]["description"]
    assert shown["total"]["amount"] and shown["total"]["currency"]
