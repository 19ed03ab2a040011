"""The catalogue's queries and the demo seed on a real database: SQLite and PostgreSQL."""
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.search import availability, catalogue
from booking.search.models import Hotel, RoomType
from booking.search.seed import seed


def test_seeding_twice_adds_the_demo_catalogue_once(search_db_uri):
    engine = create_db_engine(search_db_uri)
    with Session(engine) as session, session.begin():
        first = seed(session)
    with Session(engine) as session, session.begin():
        second = seed(session)
        hotels = session.scalar(select(func.count(Hotel.id)))
        room_types = session.scalar(select(func.count(RoomType.id)))
        cities = catalogue.list_cities(session)
    engine.dispose()
    assert first == hotels >= 2000
    assert second == 0
    assert room_types > hotels
    assert len(cities) >= 50
    assert sum(city["hotel_count"] for city in cities) == hotels


def test_search_queries_agree_on_both_databases(catalogue_db_uri):
    engine = create_db_engine(catalogue_db_uri)
    with Session(engine) as session:
        page = catalogue.find_hotels(
            session, city="zurich", guests=2, min_stars=None, max_price=None, sort="price",
            page=1, per_page=1, check_in=date(2031, 5, 1), check_out=date(2031, 5, 4),
        )
        by_stars = catalogue.find_hotels(
            session, city=None, guests=1, min_stars=3, max_price=None, sort="stars", page=1, per_page=20,
        )
        prefixed = catalogue.list_cities(session, prefix="par")
    engine.dispose()
    assert page["total"] == 2 and page["pages"] == 2
    assert [(h["name"], h["from_price_minor"], h["stay_price_minor"]) for h in page["items"]] == [
        ("Budget Inn", 12000, 36000)]
    assert [h["name"] for h in by_stars["items"]] == ["Grand Hôtel", "Hotel Limmat", "Le Petit Paris"]
    assert prefixed == [{"name": "Paris", "country": "Somewhere", "hotel_count": 2}]


def test_the_date_filter_follows_reservation_events_once_each(catalogue_db_uri):
    engine = create_db_engine(catalogue_db_uri)
    stay = {"check_in": date(2031, 5, 1), "check_out": date(2031, 5, 3)}
    # Le Petit Paris (hotel 3) has 6 double rooms and nothing else
    events = [{"reservation_id": f"BK0000000{n}", "hotel_id": 3, "room_type": "double", "rooms": 1,
               "check_in": "2031-05-02", "check_out": "2031-05-05"} for n in range(6)]

    def paris_hotels():
        with Session(engine) as session:
            page = catalogue.find_hotels(session, city="Paris", guests=1, min_stars=None, max_price=None,
                                         sort="name", page=1, per_page=20, **stay)
            return [hotel["name"] for hotel in page["items"]]

    with Session(engine) as session, session.begin():
        for event in events + events:  # every event delivered twice
            availability.follow(session, event)
    assert paris_hotels() == ["Grand Hôtel"]
    with Session(engine) as session:
        assert catalogue.get_hotel(session, 3, guests=1, **stay)["room_types"][0]["rooms_left"] == 0

    with Session(engine) as session, session.begin():
        availability.follow(session, events[0], ended=True)
        availability.follow(session, events[0], ended=True)
    assert paris_hotels() == ["Grand Hôtel", "Le Petit Paris"]
    with Session(engine) as session:
        assert catalogue.get_hotel(session, 3, guests=1, **stay)["room_types"][0]["rooms_left"] == 1
    engine.dispose()


def test_the_date_filter_applies_only_newer_versions_of_a_reservation(catalogue_db_uri):
    """A changed booking moves its rooms; an older event, late or redelivered, moves nothing back."""
    engine = create_db_engine(catalogue_db_uri)
    may, june = {"check_in": "2031-05-01", "check_out": "2031-05-03"}, {"check_in": "2031-06-01",
                                                                         "check_out": "2031-06-03"}

    def event(version, *holding):
        return {"reservation_id": "BKVERSION1", "hotel_id": 3, "room_type": "double", "rooms": 6, **may,
                "version": version, "holding": [{"room_type": "double", "count": 6, **stay} for stay in holding]}

    def doubles_left(stay):
        with Session(engine) as session:
            hotel = catalogue.get_hotel(session, 3, guests=1, check_in=date.fromisoformat(stay["check_in"]),
                                        check_out=date.fromisoformat(stay["check_out"]))
            return hotel["room_types"][0]["rooms_left"]

    changed, held, cancelled = event(2, june), event(1, may), event(3)
    for delivered in (changed, held, changed, held):  # the change overtakes the hold, both twice
        with Session(engine) as session, session.begin():
            availability.follow(session, delivered)
    assert (doubles_left(may), doubles_left(june)) == (6, 0)
    for delivered in (cancelled, changed, held):
        with Session(engine) as session, session.begin():
            availability.follow(session, delivered, ended=delivered is cancelled)
    assert (doubles_left(may), doubles_left(june)) == (6, 6)
    engine.dispose()
