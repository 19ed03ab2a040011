"""Queries on the hotel catalogue: plain functions of a SQLAlchemy session."""
import math
import unicodedata

from sqlalchemy import func, select

from booking.kit.schemas import to_minor
from booking.search import availability
from booking.search.exceptions import HotelNotFound
from booking.search.models import Hotel, RoomType

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
    """One page of hotels with a room type for `guests` (at most `max_price` a night,
    and with dates, free on every night), each with its lowest qualifying nightly
    price; and the total count."""
    nights = (check_out - check_in).days if check_in else None
    from_price = func.min(RoomType.price_minor).label("from_price_minor")
    query = (
        select(Hotel, from_price, func.min(RoomType.currency))
        .join(RoomType, RoomType.hotel_id == Hotel.id)
        .where(RoomType.max_guests >= guests)
        .group_by(Hotel.id)
    )
    if city is not None:
        query = query.where(Hotel.city_key == fold(city))
    if min_stars is not None:
        query = query.where(Hotel.stars >= min_stars)
    if max_price is not None:
        query = query.where(RoomType.price_minor <= to_minor(max_price))
    if check_in is not None:
        query = query.where(~availability.full_on_some_night(check_in, check_out))

    total = session.scalar(select(func.count()).select_from(query.subquery()))
    order = {
        "price": (from_price, Hotel.id),
        "stars": (Hotel.stars.desc(), from_price, Hotel.id),
        "name": (Hotel.name, Hotel.id),
    }[sort]
    rows = session.execute(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    items = [hotel_summary(hotel, price, currency, nights) for hotel, price, currency in rows]
    return {
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": math.ceil(total / per_page),
    }


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
        "stay_price_minor": stay_price(from_price_minor, nights),
        "nights": nights,
    }


def stay_price(nightly_minor, nights):
    if nights is None or nightly_minor is None:
        return None
    return nightly_minor * nights


def get_hotel(session, hotel_id, *, guests, check_in=None, check_out=None):
    """A hotel and the room types that sleep `guests`, cheapest first; with dates,
    the rooms of each type left on every night."""
    hotel = session.get(Hotel, hotel_id)
    if hotel is None:
        raise HotelNotFound(details={"hotel_id": str(hotel_id)})
    nights = (check_out - check_in).days if check_in else None
    taken = availability.rooms_taken(session, hotel_id, check_in, check_out) if check_in else {}
    room_types = [
        {
            "code": room.code,
            "name": room.name,
            "max_guests": room.max_guests,
            "room_count": room.room_count,
            "currency": room.currency,
            "price_minor": room.price_minor,
            "stay_price_minor": stay_price(room.price_minor, nights),
            "rooms_left": max(room.room_count - taken.get(room.code, 0), 0) if check_in else None,
        }
        for room in hotel.room_types
        if room.max_guests >= guests
    ]
    from_price = min((room["price_minor"] for room in room_types), default=None)
    currency = room_types[0]["currency"] if room_types else None
    return {
        **hotel_summary(hotel, from_price, currency, nights),
        "description": hotel.description,
        "room_types": room_types,
    }


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
