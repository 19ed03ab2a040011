"""The catalogue's queries and the demo seed on a real database: SQLite and PostgreSQL."""
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.search import catalogue
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
            page=1, per_page=1, nights=3,
        )
        by_stars = catalogue.find_hotels(
            session, city=None, guests=1, min_stars=3, max_price=None, sort="stars",
            page=1, per_page=20, nights=None,
        )
        prefixed = catalogue.list_cities(session, prefix="par")
    engine.dispose()
    assert page["total"] == 2 and page["pages"] == 2
    assert [(h["name"], h["from_price_minor"], h["stay_price_minor"]) for h in page["items"]] == [
        ("Budget Inn", 12000, 36000)]
    assert [h["name"] for h in by_stars["items"]] == ["Grand Hôtel", "Hotel Limmat", "Le Petit Paris"]
    assert prefixed == [{"name": "Paris", "country": "Somewhere", "hotel_count": 2}]
