"""SearchService with worker_factory: its database replaced by a session on a
throwaway SQLite file holding a small catalogue."""
from types import SimpleNamespace

import nameko_sqlalchemy
import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import Session, sessionmaker

from booking.kit.database import create_db_engine
from booking.kit.errors import ValidationFailed
from booking.kit.migrations import upgrade
from booking.search.exceptions import HotelNotFound
from booking.search.service import SearchService
from tests.conftest import small_catalogue
from tests.unit.recorded import dispatched, outbox_of
from tests.unit.test_holds import migrated_engine


class SessionOnly:
    """Stands in for the Database provider: hands out one session."""

    def __init__(self, session):
        self.session = session

    def get_session(self):
        return self.session


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('search')}/search.db"
    upgrade("search", uri)
    engine = create_db_engine(uri)
    with Session(engine) as session, session.begin():
        session.add_all(small_catalogue())
    session = Session(engine)
    yield worker_factory(SearchService, db=SessionOnly(session), outbox=outbox_of(SearchService))
    session.close()
    engine.dispose()


def names(page):
    return [hotel["name"] for hotel in page["items"]]


def test_city_is_matched_without_case_or_accents(search):
    assert names(search.find_hotels(city="zurich")) == ["Budget Inn", "Hotel Limmat"]
    assert search.find_hotels(city="ZÜRICH")["total"] == 2


def test_each_hotel_shows_its_cheapest_room_that_fits(search):
    page = search.find_hotels(city="Zürich", guests=2)
    assert [(h["name"], h["from_price"]["amount"]) for h in page["items"]] == [
        ("Budget Inn", "120.00"), ("Hotel Limmat", "200.00")]


def test_guests_filter_drops_hotels_without_a_room_big_enough(search):
    assert names(search.find_hotels(guests=4)) == ["Hotel Limmat", "Grand Hôtel"]


def test_max_price_and_min_stars_filter(search):
    assert names(search.find_hotels(max_price="150")) == ["Budget Inn", "Le Petit Paris"]
    assert names(search.find_hotels(min_stars=4, sort="stars")) == ["Grand Hôtel", "Hotel Limmat"]


def test_sort_by_name_and_pagination_with_total(search):
    first = search.find_hotels(sort="name", per_page=3)
    second = search.find_hotels(sort="name", per_page=3, page=2)
    assert (first["total"], first["pages"]) == (4, 2)
    assert names(first) + names(second) == ["Budget Inn", "Grand Hôtel", "Hotel Limmat", "Le Petit Paris"]


def test_unknown_city_is_an_empty_page_not_an_error(search):
    assert search.find_hotels(city="Atlantis") == {
        "items": [], "total": 0, "page": 1, "per_page": 20, "pages": 0}


@pytest.mark.parametrize("criteria", [{"page": 0}, {"per_page": 100000}, {"city": 42}])
def test_bad_arguments_are_a_validation_error(search, criteria):
    with pytest.raises(ValidationFailed):
        search.find_hotels(**criteria)


def test_get_hotel_lists_room_types_cheapest_first(search):
    hotel = search.get_hotel(4)
    assert [(room["code"], room["nightly_price"]["amount"], room["room_count"])
            for room in hotel["room_types"]] == [("double", "300.00", 20), ("suite", "600.00", 2)]


def test_get_hotel_of_an_unknown_id_raises_hotel_not_found(search):
    with pytest.raises(HotelNotFound):
        search.get_hotel(999)
    with pytest.raises(ValidationFailed):
        search.get_hotel("4; drop table hotels")


def test_list_cities_counts_hotels_and_narrows_by_prefix(search):
    assert search.list_cities() == [
        {"name": "Paris", "country": "Somewhere", "hotel_count": 2},
        {"name": "Zürich", "country": "Somewhere", "hotel_count": 2},
    ]
    assert [city["name"] for city in search.list_cities(prefix="zu")] == ["Zürich"]


@pytest.fixture
def projector(tmp_path):
    """A worker whose every `with get_session()` commits, as the real provider's does."""
    engine = migrated_engine(tmp_path, "search")
    with Session(engine) as session, session.begin():
        session.add_all(small_catalogue())
    yield worker_factory(SearchService, db=SimpleNamespace(get_session=sessionmaker(
        engine, class_=nameko_sqlalchemy.database.Session)), outbox=outbox_of(SearchService))
    engine.dispose()


def test_a_reservation_event_that_changes_the_availability_is_announced_as_hotel_updated_once(projector):
    search = projector
    held = {"reservation_id": "BKANNOUNCE1", "hotel_id": 3, "room_type": "double", "check_in": "2031-01-10",
            "check_out": "2031-01-12", "rooms": 1}
    search.count_held(held)
    search.count_cancelled(held)
    search.count_held(held)  # redelivered: the stay is known, nothing changes
    search.count_cancelled(held)

    assert dispatched(search, "hotel_updated") == [{"hotel_id": 3, "city": "Paris"}] * 2
