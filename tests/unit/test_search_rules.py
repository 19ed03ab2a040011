"""The search domain's plain rules: no broker, no service."""
from datetime import timedelta

import pytest

from booking.kit.errors import ValidationFailed
from booking.kit.schemas import load, money, today
from booking.search.catalogue import fold
from booking.search.schemas import FindHotelsRequest
from booking.search.seed import CITIES, demo_hotels


@pytest.mark.parametrize("typed, stored, key", [
    ("zurich", "Zürich", "zurich"), ("ZÜRICH", "Zürich", "zurich"), ("lodz", "Łódź", "lodz"),
    (" sao paulo ", "São Paulo", "sao paulo"), ("reykjavik", "Reykjavík", "reykjavik"),
])
def test_city_keys_ignore_case_and_accents(typed, stored, key):
    assert fold(typed) == fold(stored) == key


def test_money_is_shown_in_major_units_with_two_decimals():
    assert money(12340, "EUR") == {"amount": "123.40", "currency": "EUR"}
    assert money(5, "EUR") == {"amount": "0.05", "currency": "EUR"}


def test_search_defaults():
    assert load(FindHotelsRequest(), {}) == {
        "city": None, "check_in": None, "check_out": None, "guests": 1, "min_stars": None,
        "max_price": None, "sort": "price", "page": 1, "per_page": 20,
    }


@pytest.mark.parametrize("criteria, field", [
    ({"page": 0}, "page"),
    ({"per_page": 100000}, "per_page"),
    ({"city": 42}, "city"),
    ({"city": ""}, "city"),
    ({"guests": "many"}, "guests"),
    ({"min_stars": 6}, "min_stars"),
    ({"max_price": "-5"}, "max_price"),
    ({"sort": "random"}, "sort"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_search_arguments_name_the_field(criteria, field):
    with pytest.raises(ValidationFailed) as refused:
        load(FindHotelsRequest(), criteria)
    assert field in refused.value.details


def test_a_stay_needs_both_dates_in_order_and_not_in_the_past():
    start = today() + timedelta(days=10)
    cases = [
        ({"check_in": start.isoformat()}, "check_out"),
        ({"check_in": start.isoformat(), "check_out": start.isoformat()}, "check_out"),
        ({"check_in": (today() - timedelta(days=1)).isoformat(),
          "check_out": start.isoformat()}, "check_in"),
        ({"check_in": start.isoformat(), "check_out": (start + timedelta(days=31)).isoformat()},
         "check_out"),
    ]
    for criteria, field in cases:
        with pytest.raises(ValidationFailed) as refused:
            load(FindHotelsRequest(), criteria)
        assert field in refused.value.details, criteria


def test_demo_catalogue_is_large_real_and_deterministic():
    first = [(h.id, h.name, h.city, [(r.code, r.room_count, r.price_minor) for r in h.room_types])
             for h in demo_hotels()]
    second = [(h.id, h.name, h.city, [(r.code, r.room_count, r.price_minor) for r in h.room_types])
              for h in demo_hotels()]
    assert first == second
    assert len(first) >= 2000
    cities = {city for city, *_ in CITIES}
    assert len(cities) >= 50
    assert {"Paris", "London", "Rome", "Berlin", "Madrid", "Amsterdam", "Lisbon", "Vienna",
            "Prague", "New York", "Tokyo", "Zürich"} <= cities
    room_counts = [count for *_, rooms in first for _, count, _ in rooms]
    assert min(room_counts) >= 2 and max(room_counts) <= 64
