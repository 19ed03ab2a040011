"""Queries on the hotel catalogue: plain functions of a SQLAlchemy session."""
import math
import time
import unicodedata

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from booking.kit.schemas import MINOR_DIGITS, to_minor
from booking.search import availability, pricing
from booking.search.exceptions import HotelNotFound
from booking.search.models import Hotel, RatePlan, RateRule, RoomType

# how long a search may price from the plans and calendars it read
PRICE_BOOK_SECONDS = 30
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
    pairs = select(RoomType.hotel_id, RoomType.code).join(Hotel, Hotel.id == RoomType.hotel_id).where(
        RoomType.max_guests >= guests, ~availability.full_on_some_night(check_in, check_out))
    if city is not None:
        pairs = pairs.where(Hotel.city_key == fold(city))
    if min_stars is not None:
        pairs = pairs.where(Hotel.stars >= min_stars)
    free = {}
    for hotel_id, code in session.execute(pairs):
        free.setdefault(hotel_id, set()).add(code)
    offers, rules = PRICE_BOOK.read(session, list(free))
    priced = []
    for hotel_id, codes in free.items():
        hotel_offers = [offer for offer in offers.get(hotel_id, []) if offer[0] in codes]
        price = pricing.cheapest_stay(hotel_offers, rules.get(hotel_id, []), check_in, check_out)
        if price is not None:
            priced.append((hotel_id, price, min(base for _, _, base in hotel_offers)))
    hotels = {hotel.id: hotel for hotel in session.scalars(select(Hotel).where(Hotel.id.in_(free)))} if free else {}
    offers_found = []
    for hotel_id, price, base in priced:
        hotel = hotels[hotel_id]
        if max_price is not None and price > to_minor(max_price, hotel.currency) * nights:
            continue
        offers_found.append({**hotel_summary(hotel, base, hotel.currency, nights), "stay_price_minor": price})
    order = {
        "price": lambda o: (o["stay_price_minor"], o["id"]),
        "stars": lambda o: (-o["stars"], o["stay_price_minor"], o["id"]),
        "name": lambda o: (o["name"], o["id"]),
    }[sort]
    offers_found.sort(key=order)
    return paged(offers_found[(page - 1) * per_page:page * per_page], len(offers_found), page, per_page)


# the columns of a rate rule that pricing reads
RULE_COLUMNS = (RateRule.room_type, RateRule.rate_plan, RateRule.starts, RateRule.ends, RateRule.every_year,
                RateRule.weekdays, RateRule.price_minor, RateRule.adjust_percent, RateRule.adjust_minor,
                RateRule.closed, RateRule.closed_to_arrival, RateRule.min_stay, RateRule.max_stay)


class PriceBook:
    """What pricing needs of each hotel, kept for a while in this process: a city's
    search prices a hundred hotels, and their plans and calendars change rarely.
    A search may price from a copy at most `seconds` old; a quote and a hold always
    read the database."""

    def __init__(self, seconds=PRICE_BOOK_SECONDS, clock=time.monotonic):
        self.seconds, self.clock, self.kept = seconds, clock, {}

    def read(self, session, hotel_ids):
        """({hotel: [(room type, plan, base price)]}, {hotel: [Rule]})."""
        now, database = self.clock(), str(session.get_bind().url)
        fresh = {hotel_id: self.kept[(database, hotel_id)] for hotel_id in hotel_ids
                 if self.kept.get((database, hotel_id), (None, None, 0))[2] > now}
        missing = [hotel_id for hotel_id in hotel_ids if hotel_id not in fresh]
        if missing:
            offers, rules = _price_book(session, missing)
            for hotel_id in missing:
                fresh[hotel_id] = self.kept[(database, hotel_id)] = (
                    offers.get(hotel_id, []), rules.get(hotel_id, []), now + self.seconds)
        return ({hotel_id: kept[0] for hotel_id, kept in fresh.items()},
                {hotel_id: kept[1] for hotel_id, kept in fresh.items()})


PRICE_BOOK = PriceBook()


def _price_book(session, hotel_ids):
    """What pricing needs of these hotels, as plain rows rather than objects:
    {hotel: [(room type, plan, base price)]} and {hotel: [Rule]}, rules in order."""
    offers, rules = {}, {}
    if not hotel_ids:
        return offers, rules
    for hotel_id, room_type, plan, base in session.execute(
            select(RoomType.hotel_id, RoomType.code, RatePlan.code, RatePlan.price_minor)
            .join(RatePlan, RatePlan.room_type_id == RoomType.id).where(RoomType.hotel_id.in_(hotel_ids))):
        offers.setdefault(hotel_id, []).append((room_type, plan, base))
    for row in session.execute(select(RateRule.hotel_id, *RULE_COLUMNS).where(RateRule.hotel_id.in_(hotel_ids))
                               .order_by(RateRule.id)):
        rules.setdefault(row.hotel_id, []).append(pricing.Rule.of(row))
    return offers, rules


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
    hotel = load_hotel(session, hotel_id)
    nights = (check_out - check_in).days if check_in else None
    taken = availability.rooms_taken(session, hotel_id, check_in, check_out) if check_in else {}
    room_types = []
    rules = [pricing.Rule.of(rule) for rule in hotel.rate_rules]
    for room in hotel.room_types:
        if room.max_guests < guests:
            continue
        plans = [pricing.plan_offer(hotel, room, plan, check_in, check_out, guests, rules) for plan in room.rate_plans]
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
