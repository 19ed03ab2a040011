"""Queries on the hotel catalogue: plain functions of a SQLAlchemy session."""
import math
import random
import time
import unicodedata
from types import SimpleNamespace

import numpy as np
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import selectinload

from booking.kit.schemas import MINOR_DIGITS, to_minor, today
from booking.search import availability, grid, pricing
from booking.search.exceptions import HotelNotFound
from booking.search.models import Hotel, RatePlan, RateRule, RoomType

# how long a search or a hotel page may read a copy of a hotel
COPY_SECONDS = 30
# letters that Unicode does not decompose into a base letter and an accent
UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d",
                              "ı": "i", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss"})


def fold(text):
    """Case- and accent-insensitive key: "Zürich" and "ZURICH" both give "zurich",
    "Łódź" gives "lodz"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().translate(UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def find_hotels(session, *, city, guests, min_stars, max_price, sort, page, per_page,
                check_in=None, check_out=None):
    """One page of hotels with a room type for `guests` adults; without dates, each
    with its lowest base nightly price (at most `max_price`); with dates, only room
    types free and on sale every night, each hotel with its cheapest price of the
    stay from the rate calendar (at most `max_price` a night on average); and the
    total count."""
    if check_in is None:
        return _find_undated(session, city=city, guests=guests, min_stars=min_stars, max_price=max_price,
                             sort=sort, page=page, per_page=per_page)
    nights = (check_out - check_in).days
    city_key = city and fold(city)
    taken = availability.rooms_taken_in(session, city_key, check_in, check_out)
    choose = _choose_in_grid if COPIES.window().holds(check_in, check_out) else _choose_one_by_one
    chosen, total = choose(session, city_key, check_in, check_out, guests, min_stars, max_price, sort, taken,
                           slice((page - 1) * per_page, page * per_page))
    return paged([{**hotel_summary(hotel, base, hotel.currency, nights), "stay_price_minor": price}
                  for hotel, base, price in chosen], total, page, per_page)


def _choose_in_grid(session, city_key, check_in, check_out, guests, min_stars, max_price, sort, taken, page):
    """([(hotel, base price, stay price)] of the page, how many in all), every hotel
    of the city priced at once (booking/search/grid.py)."""
    city = COPIES.grid(session, city_key)
    price, base = city.prices_of(check_in, check_out, guests, taken)
    chosen = price < grid.UNSOLD
    if min_stars is not None:
        chosen &= city.stars >= min_stars
    if max_price is not None:
        limits = np.array([to_minor(max_price, currency) for currency in city.currencies], dtype=np.int64)
        chosen &= price <= limits[city.currency] * (check_out - check_in).days
    found = np.flatnonzero(chosen)
    order = {  # np.lexsort sorts by the last key first
        "price": (city.ids[found], price[found]),
        "stars": (city.ids[found], price[found], -city.stars[found]),
        "name": (city.ids[found], city.name_rank[found]),
    }[sort]
    return [(city.hotels[at], int(base[at]), int(price[at])) for at in found[np.lexsort(order)][page]], len(found)


def _choose_one_by_one(session, city_key, check_in, check_out, guests, min_stars, max_price, sort, taken, page):
    """The same as `_choose_in_grid`, for stays outside the grids' window."""
    nights = (check_out - check_in).days
    cards = COPIES.cards(session, COPIES.city(session, city_key))
    offers_found = []
    for hotel_id, hotel in cards.items():
        if min_stars is not None and hotel.stars < min_stars:
            continue
        free = [room for room in hotel.room_types
                if room.max_guests >= guests and taken.get((hotel_id, room.code), 0) < room.room_count]
        if not free:
            continue
        price = hotel.stay_prices.cheapest(check_in, check_out, {room.code for room in free})
        if price is None or (max_price is not None and price > to_minor(max_price, hotel.currency) * nights):
            continue
        base = min(room.from_price_minor for room in free)
        offers_found.append((hotel, base, price))
    order = {
        "price": lambda found: (found[2], found[0].id),
        "stars": lambda found: (-found[0].stars, found[2], found[0].id),
        "name": lambda found: (found[0].name, found[0].id),
    }[sort]
    offers_found.sort(key=order)
    return offers_found[page], len(offers_found)


class CatalogueCopies:
    """Copies of hotels as pricing and the hotel page read them (the hotel, its room
    types and plans, its calendar as `Rule`s, its `StayPrices`), and of each city's
    list of hotels, in plain objects kept for a while in this process: a city's
    search prices a hundred hotels, and catalogues change rarely. A search or a
    hotel page may read a copy at most `seconds` old; a quote, and so a hold, always
    reads the database. Each copy is kept for a time of its own, between half of
    `seconds` and all of it, so that a city of thousands of hotels is not read again
    all at once, on one guest's search."""

    def __init__(self, seconds=COPY_SECONDS, clock=time.monotonic, rng=None, window_nights=grid.WINDOW_NIGHTS):
        self.seconds, self.clock, self.kept, self.cities, self.grids = seconds, clock, {}, {}, {}
        self.rng = rng or random.Random()
        self.window_nights, self._window = window_nights, None

    def cards(self, session, hotel_ids):
        """{hotel id: its copy} of the hotels that exist among `hotel_ids`. A copy
        past its time whose hotel has the same `catalogue_version` is kept for
        another while; only the hotels that changed, or were not kept, are read."""
        now, kept = self.clock(), self.kept.setdefault(session.get_bind().url, {})  # {hotel id: (copy, until)}
        found, old = {}, []
        for hotel_id in hotel_ids:
            card, until = kept.get(hotel_id, (None, 0))
            if until > now:
                found[hotel_id] = card
            else:
                old.append(hotel_id)
        for hotel_id, version in _versions(session, [hotel_id for hotel_id in old if hotel_id in kept]):
            card, _ = kept[hotel_id]
            if card.catalogue_version == version:
                found[hotel_id] = card
                kept[hotel_id] = (card, now + self.seconds * self.rng.uniform(0.5, 1))
        missing = [hotel_id for hotel_id in old if hotel_id not in found]
        for card in _read_cards(session, missing):
            before, _ = kept.get(card.id, (None, 0))
            if before is not None and same_copy(before, card):
                before.catalogue_version = card.catalogue_version
                card = before  # unchanged: what was built on it (its prices, its city's grid) still holds
            elif before is not None and before.stay_prices.offers_and_rules == card.stay_prices.offers_and_rules:
                card.stay_prices = before.stay_prices  # the same calendar: keep what its nights cost
            found[card.id] = card
            kept[card.id] = (card, now + self.seconds * self.rng.uniform(0.5, 1))
        return found

    def window(self):
        """The nights from today (UTC) that grids cover."""
        if self._window is None or self._window.first != today():
            self._window = grid.Window(today(), self.window_nights)
        return self._window

    def grid(self, session, city_key):
        """The `CityGrid` of a city's hotels (every hotel if `city_key` is None) over
        the window, built again when a copy of one of them changed."""
        hotel_ids = self.city(session, city_key)
        cards = self.cards(session, hotel_ids)
        hotels = [cards[hotel_id] for hotel_id in hotel_ids if hotel_id in cards]
        key, window = (session.get_bind().url, city_key), self.window()
        kept = self.grids.get(key)
        if kept is None or not kept.built_from(hotels, window):
            kept = self.grids[key] = grid.CityGrid(hotels, window)
        return kept

    def city(self, session, city_key):
        """The ids of a city's hotels (`city_key` as `fold` makes it; every hotel if None)."""
        now, key = self.clock(), (session.get_bind().url, city_key)
        hotel_ids, until = self.cities.get(key, (None, 0))
        if until <= now:
            query = select(Hotel.id).order_by(Hotel.id)
            if city_key is not None:
                query = query.where(Hotel.city_key == city_key)
            hotel_ids = list(session.scalars(query))
            self.cities[key] = (hotel_ids, now + self.seconds)
        return hotel_ids

    def forget(self, hotel_id):
        """Its manager changed the hotel (or added it): the next search or hotel page
        reads it, and the lists of hotels, again."""
        for kept in self.kept.values():
            kept.pop(hotel_id, None)
        self.cities.clear()

    def card(self, session, hotel_id):
        card = self.cards(session, [hotel_id]).get(hotel_id)
        if card is None:
            raise HotelNotFound(details={"hotel_id": str(hotel_id)})
        return card


COPIES = CatalogueCopies()
HOTEL_COLUMNS = ("id", "name", "address", "city", "country", "stars", "description", "amenities", "timezone",
                 "check_in_time", "check_out_time", "currency", "vat_basis_points", "city_tax_minor",
                 "catalogue_version")
# the columns of a rate rule that pricing reads
RULE_COLUMNS = (RateRule.room_type, RateRule.rate_plan, RateRule.starts, RateRule.ends, RateRule.every_year,
                RateRule.weekdays, RateRule.price_minor, RateRule.adjust_percent, RateRule.adjust_minor,
                RateRule.closed, RateRule.closed_to_arrival, RateRule.min_stay, RateRule.max_stay)


def same_copy(kept, read):
    """Whether a hotel read again is what its kept copy says (its prices and version aside)."""
    aside = {"stay_prices": None, "catalogue_version": None}
    return {**vars(kept), **aside} == {**vars(read), **aside}


def mark_changed(session, hotel_id):
    """A manager changed the hotel: one more to its `catalogue_version`, in SQL, so
    that two changes at once count as two."""
    session.execute(update(Hotel).where(Hotel.id == hotel_id)
                    .values(catalogue_version=Hotel.catalogue_version + 1).execution_options(synchronize_session=False))


def _versions(session, hotel_ids):
    """(hotel id, catalogue_version) of these hotels that exist."""
    if not hotel_ids:
        return []
    return session.execute(select(Hotel.id, Hotel.catalogue_version).where(Hotel.id.in_(hotel_ids))).all()


def _read_cards(session, hotel_ids):
    """Copies of these hotels, read in three queries whatever their number."""
    if not hotel_ids:
        return []
    cards = {row.id: SimpleNamespace(**row._asdict(), room_types=[], rate_rules=[]) for row in session.execute(
        select(*(getattr(Hotel, column) for column in HOTEL_COLUMNS)).where(Hotel.id.in_(hotel_ids)))}
    rooms = {}
    for row in session.execute(
            select(RoomType.hotel_id, RoomType.id, RoomType.code, RoomType.name, RoomType.max_guests,
                   RoomType.max_occupancy, RoomType.room_count, RoomType.price_minor, RatePlan.code.label("plan"),
                   RatePlan.name.label("plan_name"), RatePlan.price_minor.label("plan_price"),
                   RatePlan.free_until_hours, RatePlan.penalty, RatePlan.penalty_percent)
            .join(RatePlan, RatePlan.room_type_id == RoomType.id).where(RoomType.hotel_id.in_(hotel_ids))
            .order_by(RoomType.price_minor, RoomType.id, RatePlan.price_minor.desc(), RatePlan.id)):
        if row.id not in rooms:
            rooms[row.id] = SimpleNamespace(code=row.code, name=row.name, max_guests=row.max_guests,
                                            occupancy=row.max_occupancy or row.max_guests, room_count=row.room_count,
                                            price_minor=row.price_minor, rate_plans=[],
                                            from_price_minor=row.plan_price)
            cards[row.hotel_id].room_types.append(rooms[row.id])
        rooms[row.id].from_price_minor = min(rooms[row.id].from_price_minor, row.plan_price)
        rooms[row.id].rate_plans.append(SimpleNamespace(
            code=row.plan, name=row.plan_name, price_minor=row.plan_price,
            policy={"free_until_hours": row.free_until_hours, "penalty": row.penalty,
                    "penalty_percent": row.penalty_percent}))
    for row in session.execute(select(RateRule.hotel_id, *RULE_COLUMNS).where(RateRule.hotel_id.in_(hotel_ids))
                               .order_by(RateRule.id)):
        cards[row.hotel_id].rate_rules.append(pricing.Rule.of(row))
    for card in cards.values():
        card.stay_prices = pricing.StayPrices([(room.code, plan.code, plan.price_minor) for room in card.room_types
                                               for plan in room.rate_plans], card.rate_rules)
    return list(cards.values())


# a hotel with everything a price needs, loaded in a few queries rather than one per room
WHOLE_HOTEL = (selectinload(Hotel.room_types).selectinload(RoomType.rate_plans), selectinload(Hotel.rate_rules))


def _find_undated(session, *, city, guests, min_stars, max_price, sort, page, per_page):
    from_price = func.min(RatePlan.price_minor).label("from_price_minor")
    query = (
        select(Hotel, from_price)
        .join(RoomType, RoomType.hotel_id == Hotel.id)
        .join(RatePlan, RatePlan.room_type_id == RoomType.id)
        .where(RoomType.max_guests >= guests)
        .group_by(Hotel.id)
    )
    if city is not None:
        query = query.where(Hotel.city_key == fold(city))
    if min_stars is not None:
        query = query.where(Hotel.stars >= min_stars)
    if max_price is not None:
        # minor units differ by currency: compare each hotel in its own
        query = query.where(RatePlan.price_minor <= case(
            *((Hotel.currency == code, to_minor(max_price, code)) for code in MINOR_DIGITS),
            else_=to_minor(max_price)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    order = {
        "price": (from_price, Hotel.id),
        "stars": (Hotel.stars.desc(), from_price, Hotel.id),
        "name": (Hotel.name, Hotel.id),
    }[sort]
    rows = session.execute(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return paged([hotel_summary(hotel, price, hotel.currency, None) for hotel, price in rows], total, page, per_page)


def paged(items, total, page, per_page):
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": math.ceil(total / per_page)}


def hotel_summary(hotel, from_price_minor, currency, nights):
    return {
        "id": hotel.id,
        "name": hotel.name,
        "address": hotel.address,
        "city": hotel.city,
        "country": hotel.country,
        "stars": hotel.stars,
        "amenities": hotel.amenities,
        "currency": currency,
        "from_price_minor": from_price_minor,
        "stay_price_minor": None,
        "nights": nights,
        "timezone": hotel.timezone,
        "check_in_time": hotel.check_in_time,
        "check_out_time": hotel.check_out_time,
        "vat_basis_points": hotel.vat_basis_points,
        "city_tax_minor": hotel.city_tax_minor,
    }


def load_hotel(session, hotel_id):
    hotel = session.scalar(select(Hotel).where(Hotel.id == hotel_id).options(*WHOLE_HOTEL))
    if hotel is None:
        raise HotelNotFound(details={"hotel_id": str(hotel_id)})
    return hotel


def get_hotel(session, hotel_id, *, guests, check_in=None, check_out=None):
    """A hotel and the room types that sleep `guests` adults, cheapest first, each
    with its rate plans; with dates, each plan's price of the stay and policy (None
    if the calendar does not sell it then) and the rooms of each type left on
    every night."""
    hotel = COPIES.card(session, hotel_id)
    nights = (check_out - check_in).days if check_in else None
    taken = availability.rooms_taken(session, hotel_id, check_in, check_out) if check_in else {}
    room_types = []
    for room in hotel.room_types:
        if room.max_guests < guests:
            continue
        plans = [pricing.plan_offer(hotel, room, plan, check_in, check_out, guests) for plan in room.rate_plans]
        prices = [plan["stay_price_minor"] for plan in plans if plan["stay_price_minor"] is not None]
        room_types.append({
            "code": room.code,
            "name": room.name,
            "max_guests": room.max_guests,
            "max_adults": room.max_guests,
            "max_occupancy": room.occupancy,
            "room_count": room.room_count,
            "currency": hotel.currency,
            "price_minor": room.price_minor,
            "stay_price_minor": min(prices, default=None),
            "rooms_left": max(room.room_count - taken.get(room.code, 0), 0) if check_in else None,
            "rate_plans": plans,
        })
    from_price = min((plan["base_price_minor"] for room in room_types for plan in room["rate_plans"]),
                     default=None)
    return {
        **hotel_summary(hotel, from_price, hotel.currency, nights),
        "stay_price_minor": min((room["stay_price_minor"] for room in room_types
                                 if room["stay_price_minor"] is not None), default=None),
        "description": hotel.description,
        "room_types": room_types,
    }


def quote(session, hotel_id, check_in, check_out, rooms):
    """The price of a stay of one or more rooms (booking/search/pricing.py)."""
    return pricing.quote(load_hotel(session, hotel_id), check_in, check_out, rooms)


def city_of(session, hotel_id):
    """The city of a hotel, or None if there is no such hotel."""
    return session.scalar(select(Hotel.city).where(Hotel.id == hotel_id))


def list_cities(session, prefix=None):
    """Every city with its number of hotels, by name; `prefix` narrows it for suggestions."""
    query = (
        select(Hotel.city, Hotel.country, func.count(Hotel.id).label("hotel_count"))
        .group_by(Hotel.city, Hotel.country)
        .order_by(Hotel.city)
    )
    if prefix is not None:
        query = query.where(Hotel.city_key.startswith(fold(prefix), autoescape=True))
    return [
        {"name": city, "country": country, "hotel_count": count}
        for city, country, count in session.execute(query)
    ]
