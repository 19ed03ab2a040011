"""The gateway's cache of search answers.

Nine requests in ten are reads of the catalogue, and a cached answer costs the
gateway no call at all. What search says of a hotel changes when its rooms are held
or given back (the date filter, rooms left): search announces each such change as
`hotel_updated` {hotel_id, city} once its projection has it, and the gateway forgets
every answer that hotel or its city was part of. A time to live (`SEARCH_CACHE_SECONDS`,
0 turns the cache off) bounds what a missed announcement can cost; holding a room
never relies on the cache (reservations checks every night itself).

Each gateway instance keeps its own cache and hears every announcement (BROADCAST).
"""
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

DEFAULT_SECONDS = 30
MAX_ANSWERS = 5000
NOBODY = object()  # the city of a dated answer that shows no hotel


@dataclass
class Answer:
    value: object
    expires_at: float
    hotels: frozenset
    cities: frozenset
    dated: bool


class SearchAnswers:
    def __init__(self, seconds, max_answers=MAX_ANSWERS, clock=time.monotonic):
        self.seconds, self.max_answers, self.clock = seconds, max_answers, clock
        self.answers = OrderedDict()
        # the keys of the answers each change must forget, so that a change (several
        # a second under load) does not read every answer: by hotel shown, and, of
        # the dated answers, by city (NOBODY: those that show no hotel)
        self.showing, self.dated_in = defaultdict(set), defaultdict(set)
        # bumped by every forget: an answer asked for before a change is not kept after it
        self.generation = 0
        self.hits = self.misses = 0

    def fetch(self, key, ask, dated=False):
        """The answer kept for `key` (a hashable), or `ask()`'s, kept for next time.
        `dated`: the answer depends on rooms left (a search with dates)."""
        kept = self.answers.get(key)
        if kept is not None and kept.expires_at > self.clock():
            self.answers.move_to_end(key)
            self.hits += 1
            return kept.value
        self.misses += 1
        generation = self.generation
        value = ask()
        if self.seconds > 0 and generation == self.generation:
            hotels = value.get("items", [value]) if isinstance(value, dict) else []
            self._keep(key, Answer(value, self.clock() + self.seconds, frozenset(h.get("id") for h in hotels),
                                   frozenset(h.get("city") for h in hotels), dated))
            while len(self.answers) > self.max_answers:
                self._drop(next(iter(self.answers)))
        return value

    def forget_hotel(self, hotel_id, city):
        """Forget what may have changed with this hotel's rooms: every answer that
        shows it, and every dated answer for its city (the hotel may now be in it),
        or with nobody in it (it may now have somebody)."""
        self.generation += 1
        none = set()
        for key in self.showing.get(hotel_id, none) | self.dated_in.get(city, none) | self.dated_in.get(NOBODY, none):
            self._drop(key)

    def _keep(self, key, answer):
        if key in self.answers:
            self._drop(key)
        self.answers[key] = answer
        for index, value in self._indexed_as(answer):
            index[value].add(key)

    def _drop(self, key):
        for index, value in self._indexed_as(self.answers.pop(key)):
            index[value].discard(key)
            if not index[value]:
                del index[value]

    def _indexed_as(self, answer):
        yield from ((self.showing, hotel_id) for hotel_id in answer.hotels)
        if answer.dated:
            yield from ((self.dated_in, city) for city in answer.cities or {NOBODY})


class SearchCache(DependencyProvider):
    """`self.search_cache.fetch(key, ask, dated)`: this gateway instance's `SearchAnswers`."""

    def setup(self):
        self.answers = SearchAnswers(float(self.container.config.get("SEARCH_CACHE_SECONDS", DEFAULT_SECONDS)))

    def get_dependency(self, worker_ctx):
        return self.answers
