"""A city priced at once (booking/search/grid.py) answers as its hotels priced one by one
(`StayPrices.cheapest`, what a stay beyond the grids' window is still priced with)."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade
from booking.kit.schemas import today
from booking.search import catalogue, grid, pricing
from booking.search.seed import seed
from tests.unit.test_pricing import offers, rule, rules_drawn

FIRST = date(2027, 5, 1)  # the rules drawn fall from here to 12 days later


@settings(max_examples=300, deadline=None)
@given(starts=st.dates(date(2026, 1, 1), date(2028, 12, 31)), length=st.integers(0, 400),
       every_year=st.booleans(), weekdays=st.sampled_from([None, "45", "0", "0123456", "26"]),
       first=st.dates(date(2026, 10, 1), date(2027, 12, 31)))
def test_a_window_says_a_rule_covers_the_nights_that_pricing_says_it_covers(starts, length, every_year, weekdays,
                                                                              first):
    covering = rule(starts, starts + timedelta(days=length), every_year=every_year, weekdays=weekdays)
    window = grid.Window(first, nights=400)
    assert list(window.covered(covering)) == [pricing.covers(covering, first + timedelta(days=offset))
                                              for offset in range(400)]


def copies(drawn):
    """Copies of hotels as booking/search/catalogue.py keeps them, from drawn
    (offers, rules, {room type: (max guests, rooms)})."""
    hotels = []
    for number, (hotel_offers, rules, rooms) in enumerate(drawn, start=1):
        room_types = [SimpleNamespace(code=code, max_guests=rooms[code][0], room_count=rooms[code][1],
                                      from_price_minor=min(base for room, _, base in hotel_offers if room == code))
                      for code in sorted({room for room, _, _ in hotel_offers})]
        hotels.append(SimpleNamespace(id=number, name=f"Hotel {number % 3}", stars=number % 5 + 1, currency="EUR",
                                      room_types=room_types, stay_prices=pricing.StayPrices(hotel_offers, rules)))
    return hotels


hotels_drawn = st.lists(st.tuples(
    offers, rules_drawn,
    st.fixed_dictionaries({code: st.tuples(st.integers(1, 3), st.integers(1, 3)) for code in ("double", "family")}),
), min_size=0, max_size=5)


@settings(max_examples=300, deadline=None)
@given(drawn=hotels_drawn, check_in=st.integers(0, 10), nights=st.integers(1, 6), guests=st.integers(1, 3),
       taken=st.dictionaries(st.tuples(st.integers(1, 5), st.sampled_from(["double", "family"])),
                             st.integers(0, 3)))
def test_a_city_priced_at_once_costs_what_each_hotel_priced_alone_costs(drawn, check_in, nights, guests, taken):
    hotels = copies(drawn)
    first = FIRST + timedelta(days=check_in)
    last = first + timedelta(days=nights)
    city = grid.CityGrid(hotels, grid.Window(FIRST - timedelta(days=3), nights=30))
    cheapest, base = city.prices_of(first, last, guests, taken)
    at_once = {hotel.id: (int(price), int(lowest)) for hotel, price, lowest in zip(city.hotels, cheapest, base,
                                                                                   strict=True)
               if price != grid.UNSOLD}
    alone = {}
    for hotel in hotels:
        free = [room for room in hotel.room_types
                if room.max_guests >= guests and taken.get((hotel.id, room.code), 0) < room.room_count]
        price = hotel.stay_prices.cheapest(first, last, {room.code for room in free}) if free else None
        if price is not None:
            alone[hotel.id] = (price, min(room.from_price_minor for room in free))
    assert at_once == alone


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A session on the demo catalogue (2,475 hotels; seasons, weekends, closed days,
    arrival rules; several currencies)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('grid')}/search.db"
    upgrade("search", uri)
    engine = create_db_engine(uri)
    with Session(engine) as session:
        with session.begin():
            seed(session)
        yield session
    engine.dispose()


@pytest.mark.parametrize("criteria", [
    {"city": "London", "sort": "price"}, {"city": "Paris", "sort": "stars"}, {"city": "Rome", "sort": "name"},
    {"city": "New York", "sort": "price", "min_stars": 4}, {"city": "London", "sort": "price", "max_price": "120.00"},
    {"city": "Tokyo", "sort": "price", "guests": 3}, {"city": "Berlin", "sort": "name", "per_page": 5, "page": 2},
])
def test_a_search_finds_the_same_page_through_the_grid_as_one_hotel_at_a_time(criteria, demo, monkeypatch):
    asked = {"guests": 2, "min_stars": None, "max_price": None, "page": 1, "per_page": 20, **criteria}
    for days_ahead, nights in ((1, 1), (30, 3), (120, 7), (200, 2), (330, 30)):
        stay = {"check_in": today() + timedelta(days=days_ahead),
                "check_out": today() + timedelta(days=days_ahead + nights)}
        monkeypatch.setattr(catalogue, "COPIES", catalogue.CatalogueCopies())
        through_the_grid = catalogue.find_hotels(demo, **asked, **stay)
        monkeypatch.setattr(catalogue, "COPIES", catalogue.CatalogueCopies(window_nights=0))
        assert catalogue.find_hotels(demo, **asked, **stay) == through_the_grid
        assert through_the_grid["total"] > 0
