"""A city's rate calendars laid out night by night in arrays, so that a search prices
every hotel of the city at once (numpy) rather than one after another.

What a stay costs is `pricing.StayPrices.cheapest`'s answer, found another way: the
offers of a hotel that the same rules govern form a group; on each night of the
window, the rules of a group that cover it make one of a few distinct *readings*
(a season, a weekend, a closed day...). A group's nights are kept as the index of
their reading, one byte a night; each reading's terms (closed, closed to arrival,
minimum and maximum stay) and the price of a night of each offer under it are kept
in small tables. A stay's price is then a sum of table entries picked by the
readings of its nights, for every offer of the city in one step; the cheapest offer
a hotel has free is a minimum over its rows.

A `HotelGrid` is built once for a hotel's calendar and window (kept with its
`StayPrices`, so a copy read again unchanged keeps it); a `CityGrid` joins those of
a city's hotels, and is built again only when one of them changes.
"""
import functools
from datetime import date
from typing import NamedTuple

import numpy as np

from booking.search.pricing import arrival_terms, night_price, said

# the nights a grid covers from today: a year ahead, the longest stay, and some; a
# stay that ends later is priced night by night, as before
WINDOW_NIGHTS = 400
# the price of what is not sold: above any sum of real prices
UNSOLD = np.iinfo(np.int64).max


class Window:
    """The nights from `first` on that grids cover, as arrays to test rules against."""

    def __init__(self, first, nights=WINDOW_NIGHTS):
        self.first, self.nights = first, nights
        days = [date.fromordinal(first.toordinal() + offset) for offset in range(nights)]
        self.weekdays = np.array([day.weekday() for day in days], dtype=np.int8)
        self.month_days = np.array([month_day(day) for day in days], dtype=np.int16)

    def holds(self, check_in, check_out):
        """Whether every night of the stay is in the window."""
        return 0 <= (check_in - self.first).days and (check_out - self.first).days <= self.nights

    def covered(self, rule):
        """On which of the window's nights `rule` applies (as `pricing.covers` says)."""
        if rule.every_year:
            starts, ends = month_day(rule.starts), month_day(rule.ends)
            if starts <= ends:
                mask = (self.month_days >= starts) & (self.month_days <= ends)
            else:  # over the new year
                mask = (self.month_days >= starts) | (self.month_days <= ends)
        else:
            mask = np.zeros(self.nights, dtype=bool)
            start = max((rule.starts - self.first).days, 0)
            end = (rule.ends - self.first).days + 1
            if end > start:
                mask[start:end] = True
        if rule.days is not None:
            mask &= np.isin(self.weekdays, list(rule.days))
        return mask


def month_day(day):
    return day.month * 100 + day.day


class HotelGrid:
    """One hotel's calendar over a window: for each group of offers (as `StayPrices`
    groups them), the reading of each night; each reading's terms; each offer's price
    of a night under each reading. Where no rule of a group sets a price, a dearer
    base never makes a cheaper stay: only each room type's cheapest offer is kept."""

    def __init__(self, stay_prices, window):
        self.window = window
        self.readings, self.terms, self.offers = [], [], []
        for governing, offers, sets_price in stay_prices.groups:
            if not sets_price:
                cheapest = {}
                for room_type, base in offers:
                    cheapest[room_type] = min(base, cheapest.get(room_type, base))
                offers = list(cheapest.items())
            nights, covering = readings_of(governing, window)
            self.readings.append(nights)
            self.terms.append([(bool(said(rules, None, "closed")), *arrival_terms(rules)) for rules in covering])
            self.offers.append([(room_type, [night_price(base, rules, None) for rules in covering])
                                for room_type, base in offers])


def hotel_grid(stay_prices, window):
    """The grid of a hotel's `StayPrices` over `window`, built once a window."""
    if stay_prices.grid is None or stay_prices.grid.window is not window:
        stay_prices.grid = HotelGrid(stay_prices, window)
    return stay_prices.grid


def readings_of(rules, window):
    """(the index of each night's reading, [the rules covering the nights of each reading])."""
    nights, covering = _pattern(window, tuple((rule.starts, rule.ends, rule.every_year, rule.days) for rule in rules))
    return nights, [[rules[index] for index in indexes] for indexes in covering]


@functools.lru_cache(maxsize=4096)
def _pattern(window, coverage):
    """`readings_of` for rules that cover these nights (each rule's dates, every year
    or not, and weekdays), as indexes of the rules: hotels of a city mostly share
    their seasons and weekends, and differ only in prices."""
    if not coverage:
        return np.zeros(window.nights, dtype=np.uint8), [[]]
    masks = np.array([window.covered(Coverage(*dates)) for dates in coverage])
    if len(coverage) < 63:  # a night's rules as the bits of one number
        signature = (masks.astype(np.int64) << np.arange(len(coverage), dtype=np.int64)[:, None]).sum(axis=0)
        _, first, nights = np.unique(signature, return_index=True, return_inverse=True)
    else:
        _, first, nights = np.unique(masks, axis=1, return_index=True, return_inverse=True)
    covering = [np.flatnonzero(masks[:, night]).tolist() for night in first]
    return nights.ravel().astype(np.uint8 if len(first) <= 256 else np.uint16), covering


class Coverage(NamedTuple):
    """The nights a rule covers, as `Window.covered` reads them."""

    starts: date
    ends: date
    every_year: bool
    days: frozenset | None


class CityGrid:
    """The grids of a city's hotels joined, a row per offer, rows of a hotel together.
    `hotels` are the copies (booking/search/catalogue.py) in the order given."""

    def __init__(self, hotels, window):
        self.window, self.copies = window, tuple(hotels)
        self.hotels = [hotel for hotel in hotels if any(offers for _, offers, _ in hotel.stay_prices.groups)]
        readings, terms, prices = [], [], []
        group_start, row_group, row_price_start, row_hotel = [], [], [], []
        rooms_of, room_count, max_guests, from_price = {}, [], [], []
        for position, hotel in enumerate(self.hotels):
            grid = hotel_grid(hotel.stay_prices, window)
            rooms = {room.code: room for room in hotel.room_types}
            for nights, group_terms, offers in zip(grid.readings, grid.terms, grid.offers, strict=True):
                group = len(readings)
                readings.append(nights)
                group_start.append(len(terms))
                terms.extend(group_terms)
                for room_type, night_prices in offers:
                    room = rooms[room_type]
                    rooms_of.setdefault((hotel.id, room_type), []).append(len(row_group))
                    row_group.append(group)
                    row_price_start.append(len(prices))
                    prices.extend(night_prices)
                    row_hotel.append(position)
                    room_count.append(room.room_count)
                    max_guests.append(room.max_guests)
                    from_price.append(room.from_price_minor)
        # a byte a night and group (two for a calendar of over 256 readings)
        self.readings = np.array(readings).reshape(len(readings), window.nights)
        self.group_start = np.array(group_start, dtype=np.intp)
        terms = np.array(terms, dtype=np.int64).reshape(len(terms), 4)
        self.closed, self.arrival_closed = terms[:, 0].astype(bool), terms[:, 1].astype(bool)
        self.min_stay, self.max_stay = terms[:, 2], terms[:, 3]
        self.prices = np.array(prices, dtype=np.int64)
        self.row_group = np.array(row_group, dtype=np.intp)
        self.row_price_start = np.array(row_price_start, dtype=np.intp)
        self.rooms_of = {room: np.array(rows) for room, rows in rooms_of.items()}
        self.room_count = np.array(room_count, dtype=np.int64)
        self.max_guests = np.array(max_guests, dtype=np.int64)
        self.from_price = np.array(from_price, dtype=np.int64)
        self.hotel_start = np.flatnonzero(np.diff(np.array(row_hotel), prepend=-1)) if row_hotel else \
            np.array([], dtype=np.intp)
        self.ids = np.array([hotel.id for hotel in self.hotels], dtype=np.int64)
        self.stars = np.array([hotel.stars for hotel in self.hotels], dtype=np.int64)
        self.currencies = sorted({hotel.currency for hotel in self.hotels})
        self.currency = np.array([self.currencies.index(hotel.currency) for hotel in self.hotels], dtype=np.intp)
        names = sorted({hotel.name for hotel in self.hotels})
        rank = {name: index for index, name in enumerate(names)}
        self.name_rank = np.array([rank[hotel.name] for hotel in self.hotels], dtype=np.int64)

    def built_from(self, hotels, window):
        """Whether this grid is of these very copies, in this order, and this window."""
        return window is self.window and len(hotels) == len(self.copies) and all(
            hotel is copy for hotel, copy in zip(hotels, self.copies, strict=True))

    def prices_of(self, check_in, check_out, guests, taken):
        """(the cheapest price of the stay of each hotel's offers free for `guests`,
        UNSOLD if none; the lowest base nightly price among its free room types, UNSOLD
        if none), for a stay inside the window; `taken` as
        `availability.rooms_taken_in` gives it."""
        start, length = (check_in - self.window.first).days, (check_out - check_in).days
        if not self.hotels:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        nights = self.readings[:, start:start + length].astype(np.intp)
        closed = self.closed[self.group_start[:, None] + nights].any(axis=1)
        arrival = self.group_start + nights[:, 0]
        max_stay = self.max_stay[arrival]
        sold = (~closed & ~self.arrival_closed[arrival] & (self.min_stay[arrival] <= length)
                & ((max_stay == 0) | (length <= max_stay)))
        free = self.max_guests >= guests
        for room, count in taken.items():
            rows = self.rooms_of.get(room)
            if rows is not None and count >= self.room_count[rows[0]]:
                free[rows] = False
        stay = self.prices[self.row_price_start[:, None] + nights[self.row_group]].sum(axis=1)
        cheapest = np.minimum.reduceat(np.where(free & sold[self.row_group], stay, UNSOLD), self.hotel_start)
        base = np.minimum.reduceat(np.where(free, self.from_price, UNSOLD), self.hotel_start)
        return cheapest, base
