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
from collections import OrderedDict
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

DEFAULT_SECONDS = 30
MAX_ANSWERS = 5000


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
            self.answers[key] = Answer(
                value, self.clock() + self.seconds, frozenset(h.get("id") for h in hotels),
                frozenset(h.get("city") for h in hotels), dated)
            self.answers.move_to_end(key)
            while len(self.answers) > self.max_answers:
                self.answers.popitem(last=False)
        return value

    def forget_hotel(self, hotel_id, city):
        """Forget what may have changed with this hotel's rooms: every answer that
        shows it, and every dated answer for its city (the hotel may now be in it),
        or with nobody in it (it may now have somebody)."""
        self.generation += 1
        for key, answer in list(self.answers.items()):
            if hotel_id in answer.hotels or (answer.dated and (city in answer.cities or not answer.hotels)):
                del self.answers[key]


class SearchCache(DependencyProvider):
    """`self.search_cache.fetch(key, ask, dated)`: this gateway instance's `SearchAnswers`."""

    def setup(self):
        self.answers = SearchAnswers(float(self.container.config.get("SEARCH_CACHE_SECONDS", DEFAULT_SECONDS)))

    def get_dependency(self, worker_ctx):
        return self.answers
