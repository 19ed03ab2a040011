"""The gateway's cache of search answers (entrypoints/gateway/cache.py)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from entrypoints.gateway.cache import NOBODY, SearchAnswers

PARIS_PAGE = {"items": [{"id": 3, "city": "Paris"}, {"id": 4, "city": "Paris"}], "total": 2}
ROME_PAGE = {"items": [{"id": 7, "city": "Rome"}], "total": 1}


class Search:
    """Counts the questions that reach it."""

    def __init__(self):
        self.asked = 0

    def answer(self, value):
        def ask():
            self.asked += 1
            return value
        return ask


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_an_answer_is_kept_until_it_expires():
    search, clock = Search(), Clock()
    cache = SearchAnswers(seconds=30, clock=clock)

    assert cache.fetch("paris", search.answer(PARIS_PAGE)) == PARIS_PAGE
    assert cache.fetch("paris", search.answer(PARIS_PAGE)) == PARIS_PAGE
    clock.now += 31
    cache.fetch("paris", search.answer(PARIS_PAGE))

    assert search.asked == 2 and (cache.hits, cache.misses) == (1, 2)


def test_a_change_to_a_hotel_forgets_what_shows_it_and_the_dated_answers_of_its_city():
    search = Search()
    cache = SearchAnswers(seconds=30)
    cache.fetch("paris undated", search.answer(PARIS_PAGE))
    cache.fetch("paris dated", search.answer(PARIS_PAGE), dated=True)
    cache.fetch("hotel 4", search.answer({"id": 4, "city": "Paris"}))
    cache.fetch("rome dated", search.answer(ROME_PAGE), dated=True)
    cache.fetch("nobody free in Paris", search.answer({"items": [], "total": 0}), dated=True)
    cache.fetch("hotel 3 dated", search.answer({"id": 3, "city": "Paris"}), dated=True)

    cache.forget_hotel(3, "Paris")  # hotel 4 may now be shown where it was full

    assert set(cache.answers) == {"hotel 4", "rome dated"}


def test_an_answer_asked_for_before_a_change_is_not_kept_after_it():
    cache = SearchAnswers(seconds=30)

    def ask_while_the_rooms_change():
        cache.forget_hotel(7, "Rome")
        return ROME_PAGE

    cache.fetch("rome dated", ask_while_the_rooms_change, dated=True)

    assert cache.answers == {}


def test_no_more_than_the_most_recent_answers_are_kept_and_0_seconds_keeps_none():
    search = Search()
    cache = SearchAnswers(seconds=30, max_answers=2)
    for key in ("a", "b", "a", "c"):
        cache.fetch(key, search.answer(ROME_PAGE))
    assert list(cache.answers) == ["a", "c"]

    off = SearchAnswers(seconds=0)
    off.fetch("a", search.answer(ROME_PAGE))
    assert off.answers == {}


answers_asked = st.tuples(
    st.integers(0, 5),  # the key
    st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["Paris", "Rome"])), max_size=3),  # the hotels shown
    st.booleans(),  # dated
)
steps = st.lists(st.one_of(
    st.tuples(st.just("fetch"), answers_asked),
    st.tuples(st.just("forget"), st.tuples(st.integers(1, 4), st.sampled_from(["Paris", "Rome"]))),
    st.tuples(st.just("wait"), st.integers(0, 40)),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_a_change_forgets_exactly_what_reading_every_answer_would_and_the_index_keeps_no_stale_key(steps):
    clock = Clock()
    cache = SearchAnswers(seconds=30, max_answers=4, clock=clock)
    for step, what in steps:
        if step == "fetch":
            key, hotels, dated = what
            items = [{"id": hotel_id, "city": city} for hotel_id, city in hotels]
            cache.fetch(key, lambda items=items: {"items": items, "total": len(items)}, dated=dated)
        elif step == "forget":
            hotel_id, city = what
            kept = {key for key, answer in cache.answers.items() if not (
                hotel_id in answer.hotels or (answer.dated and (city in answer.cities or not answer.hotels)))}
            cache.forget_hotel(hotel_id, city)
            assert set(cache.answers) == kept
        else:
            clock.now += what
        showing, dated_in = {}, {}
        for key, answer in cache.answers.items():
            for hotel_id in answer.hotels:
                showing.setdefault(hotel_id, set()).add(key)
            for city in (answer.cities or {NOBODY}) if answer.dated else ():
                dated_in.setdefault(city, set()).add(key)
        assert (dict(cache.showing), dict(cache.dated_in)) == (showing, dated_in)
