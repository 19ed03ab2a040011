"""The copies of hotels that searches and hotel pages read (booking/search/catalogue.py):
kept for a while, forgotten when a hotel changes, and what was learnt of a calendar's
nights kept while the calendar stays the same."""
from datetime import date

import pytest
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade
from booking.search.catalogue import CatalogueCopies, fold, mark_changed
from booking.search.models import Hotel, RateRule
from tests.conftest import add_small_catalogue


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def session(tmp_path):
    uri = f"sqlite:///{tmp_path}/search.db"
    upgrade("search", uri)
    add_small_catalogue(uri)
    engine = create_db_engine(uri)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_a_citys_hotels_are_listed_again_once_a_hotel_changes_or_the_copy_is_old(session):
    clock = Clock()
    copies = CatalogueCopies(seconds=30, clock=clock)
    assert copies.city(session, fold("Paris")) == [3, 4]
    session.get(Hotel, 1).city_key = fold("Paris")
    session.flush()
    assert copies.city(session, fold("Paris")) == [3, 4]  # the copy, not yet 30 seconds old
    copies.forget(1)  # what `hotel_updated` does
    assert copies.city(session, fold("Paris")) == [1, 3, 4]
    session.get(Hotel, 1).city_key = fold("Zürich")
    session.flush()
    clock.now = 31
    assert copies.city(session, fold("Paris")) == [3, 4]
    assert copies.city(session, None) == [1, 2, 3, 4]


def test_a_hotel_read_again_is_kept_as_it_was_unless_it_changed_and_its_prices_unless_its_calendar_did(session):
    clock = Clock()
    copies = CatalogueCopies(seconds=30, clock=clock)
    first = copies.card(session, 3)
    assert first.stay_prices.cheapest(date(2027, 5, 1), date(2027, 5, 3)) == 30000
    clock.now = 31
    mark_changed(session, 3)  # a change that changed nothing
    session.flush()
    assert copies.card(session, 3) is first  # read again, the same: what was built on it holds
    session.get(Hotel, 3).description = "Newly painted."
    mark_changed(session, 3)  # as a manager's change does
    session.flush()
    clock.now = 62
    painted = copies.card(session, 3)
    assert painted is not first and painted.description == "Newly painted."
    assert painted.stay_prices is first.stay_prices
    session.add(RateRule(hotel_id=3, name="May", starts=date(2027, 5, 1), ends=date(2027, 5, 31), every_year=False,
                         adjust_percent=10))
    mark_changed(session, 3)
    session.flush()
    clock.now = 93
    changed = copies.card(session, 3)
    assert changed.stay_prices is not first.stay_prices
    assert changed.stay_prices.cheapest(date(2027, 5, 1), date(2027, 5, 3)) == 33000


def test_copies_read_together_are_kept_each_for_a_time_of_its_own_so_a_city_is_not_read_again_at_once(session):
    copies = CatalogueCopies(seconds=30, clock=Clock())
    copies.cards(session, [1, 2, 3, 4])
    kept_until = [until for kept in copies.kept.values() for _, until in kept.values()]
    assert all(15 <= until <= 30 for until in kept_until)
    assert len(set(kept_until)) == 4


def test_a_copy_past_its_time_is_kept_while_its_hotels_version_is_the_same_and_read_again_once_it_is_not(session):
    """A missed `hotel_updated` costs at most a copy's time: the version says the
    hotel changed. Until then the copy is kept without reading the hotel again."""
    clock = Clock()
    copies = CatalogueCopies(seconds=30, clock=clock)
    first = copies.card(session, 3)
    session.get(Hotel, 3).description = "Changed by hand, not by a manager."
    session.flush()
    clock.now = 31
    assert copies.card(session, 3) is first  # the version says nothing changed: not read again
    mark_changed(session, 3)
    session.flush()
    assert copies.card(session, 3) is first  # not yet 15 s later: the copy, as before
    clock.now = 62
    again = copies.card(session, 3)
    assert again.description == "Changed by hand, not by a manager." and again.catalogue_version == 1
