"""The demo catalogue: real cities, made-up hotels, generated deterministically.

The same code always yields the same hotels with the same ids, so `booking seed`
can run any number of times: it inserts only the hotels that are missing.
"""
import random

from sqlalchemy import select

from booking.search.catalogue import fold
from booking.search.models import Hotel, RoomType

SEED = 20261121
CURRENCY = "EUR"

# city, country, number of hotels, price level (1.0 = a mid-priced European city)
CITIES = [
    ("Paris", "France", 90, 1.35), ("London", "United Kingdom", 90, 1.45),
    ("Rome", "Italy", 70, 1.15), ("Berlin", "Germany", 70, 1.0),
    ("Madrid", "Spain", 60, 1.0), ("Amsterdam", "Netherlands", 60, 1.4),
    ("Lisbon", "Portugal", 50, 0.9), ("Vienna", "Austria", 50, 1.05),
    ("Prague", "Czechia", 50, 0.75), ("New York", "United States", 90, 1.7),
    ("Tokyo", "Japan", 80, 1.2), ("Zürich", "Switzerland", 40, 1.75),
    ("Barcelona", "Spain", 60, 1.15), ("Milan", "Italy", 45, 1.2),
    ("Munich", "Germany", 45, 1.15), ("Brussels", "Belgium", 35, 1.0),
    ("Copenhagen", "Denmark", 35, 1.4), ("Stockholm", "Sweden", 35, 1.3),
    ("Oslo", "Norway", 25, 1.4), ("Helsinki", "Finland", 25, 1.15),
    ("Dublin", "Ireland", 35, 1.35), ("Edinburgh", "United Kingdom", 30, 1.2),
    ("Budapest", "Hungary", 40, 0.7), ("Warsaw", "Poland", 35, 0.7),
    ("Kraków", "Poland", 30, 0.65), ("Łódź", "Poland", 15, 0.55),
    ("Athens", "Greece", 40, 0.85), ("Istanbul", "Türkiye", 55, 0.8),
    ("Reykjavík", "Iceland", 15, 1.5), ("Porto", "Portugal", 30, 0.85),
    ("Seville", "Spain", 30, 0.9), ("Florence", "Italy", 40, 1.2),
    ("Venice", "Italy", 35, 1.5), ("Nice", "France", 30, 1.2),
    ("Lyon", "France", 25, 0.95), ("Geneva", "Switzerland", 25, 1.7),
    ("Hamburg", "Germany", 30, 1.05), ("Ljubljana", "Slovenia", 15, 0.8),
    ("Zagreb", "Croatia", 15, 0.75), ("Dubrovnik", "Croatia", 20, 1.1),
    ("Tallinn", "Estonia", 15, 0.75), ("Riga", "Latvia", 15, 0.7),
    ("Vilnius", "Lithuania", 15, 0.7), ("Bratislava", "Slovakia", 15, 0.7),
    ("San Francisco", "United States", 45, 1.65), ("Chicago", "United States", 40, 1.3),
    ("Montréal", "Canada", 35, 1.05), ("Toronto", "Canada", 40, 1.15),
    ("México City", "Mexico", 40, 0.7), ("São Paulo", "Brazil", 40, 0.75),
    ("Buenos Aires", "Argentina", 35, 0.65), ("Kyoto", "Japan", 40, 1.1),
    ("Osaka", "Japan", 35, 1.0), ("Seoul", "South Korea", 45, 0.95),
    ("Singapore", "Singapore", 45, 1.4), ("Hong Kong", "China", 45, 1.3),
    ("Bangkok", "Thailand", 50, 0.6), ("Sydney", "Australia", 45, 1.35),
    ("Melbourne", "Australia", 35, 1.2), ("Cape Town", "South Africa", 30, 0.75),
    ("Marrakech", "Morocco", 30, 0.6), ("Dubai", "United Arab Emirates", 45, 1.3),
]

STREETS = [
    "Station Road", "Market Square", "River Walk", "Park Avenue", "Old Town Lane",
    "Harbour Street", "Cathedral Square", "Garden Row", "Museum Street", "King's Road",
    "Bridge Street", "Castle Hill", "University Avenue", "Canal Street", "Opera Place",
]
NAME_WORDS = [
    "Grand", "Royal", "Park", "Central", "Riverside", "Old Town", "Garden", "Harbour",
    "Boutique", "Palace", "Station", "Linden", "Cathedral", "Museum", "Opera", "Bridge",
    "Castle", "Meridian", "Aurora", "Belvedere", "Terrace", "Lighthouse", "Orchard",
]
NAME_KINDS = ["Hotel", "Inn", "Suites", "Residence", "House", "Lodge", "Hotel & Spa"]
AMENITIES = [
    "wifi", "breakfast", "parking", "pool", "gym", "spa", "restaurant", "bar",
    "air conditioning", "pets allowed", "airport shuttle", "24-hour front desk",
]
# code, name, guests, price factor
ROOM_TYPES = [
    ("single", "Single Room", 1, 0.7), ("double", "Double Room", 2, 1.0),
    ("twin", "Twin Room", 2, 1.0), ("deluxe", "Deluxe Double", 2, 1.45),
    ("triple", "Triple Room", 3, 1.3), ("family", "Family Room", 4, 1.6),
    ("junior-suite", "Junior Suite", 3, 2.0), ("suite", "Suite", 4, 2.9),
]
STAR_PRICE = {1: 45, 2: 65, 3: 95, 4: 140, 5: 260}
DESCRIPTIONS = [
    "A {adjective} {stars}-star hotel in the heart of {city}, a short walk from {sight}.",
    "Quiet rooms, friendly staff and {adjective} views over {city}, close to {sight}.",
    "A {adjective} base for exploring {city}: {sight} is ten minutes away.",
]
ADJECTIVES = ["charming", "modern", "elegant", "cosy", "stylish", "historic", "bright"]
SIGHTS = ["the old town", "the main station", "the river", "the museums", "the cathedral"]


def demo_hotels():
    """Every demo hotel, with its room types, in id order. Deterministic."""
    rng = random.Random(SEED)
    hotel_id = 0
    for city, country, count, price_level in CITIES:
        names = set()
        for _ in range(count):
            hotel_id += 1
            stars = rng.choices([1, 2, 3, 4, 5], weights=[5, 15, 40, 30, 10])[0]
            name = _unique_name(rng, city, names)
            hotel = Hotel(
                id=hotel_id,
                name=name,
                address=f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {city}",
                city=city,
                city_key=fold(city),
                country=country,
                stars=stars,
                description=rng.choice(DESCRIPTIONS).format(
                    adjective=rng.choice(ADJECTIVES), stars=stars, city=city, sight=rng.choice(SIGHTS)
                ),
                amenities=sorted(rng.sample(AMENITIES, rng.randint(3, 8))),
            )
            hotel.room_types = list(_room_types(rng, stars, price_level))
            yield hotel


def _unique_name(rng, city, taken):
    while True:
        word, kind = rng.choice(NAME_WORDS), rng.choice(NAME_KINDS)
        name = rng.choice([f"{word} {kind} {city}", f"The {word} {kind}", f"{kind} {word}"])
        if name not in taken:
            taken.add(name)
            return name


def _room_types(rng, stars, price_level):
    others = [room for room in ROOM_TYPES if room[0] != "double"]
    chosen = [ROOM_TYPES[1]] + rng.sample(others, rng.randint(1, 4))
    # a hotel has from a few to a few dozen rooms of each type
    size = rng.choice([0.3, 0.6, 1.0, 1.6])
    for code, name, guests, factor in sorted(chosen, key=lambda room: room[3]):
        nightly = STAR_PRICE[stars] * price_level * factor * rng.uniform(0.85, 1.2)
        yield RoomType(
            code=code,
            name=name,
            max_guests=guests,
            room_count=max(2, round(rng.randint(4, 40) * size)),
            price_minor=round(nightly) * 100,
            currency=CURRENCY,
        )


def seed(session):
    """Insert the demo hotels that are missing; return how many were inserted."""
    existing = set(session.scalars(select(Hotel.id)))
    missing = [hotel for hotel in demo_hotels() if hotel.id not in existing]
    session.add_all(missing)
    return len(missing)
