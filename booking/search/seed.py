"""The demo catalogue: real cities, made-up hotels, generated deterministically.

The same code always yields the same hotels with the same ids, so `booking seed`
can run any number of times: it inserts only the hotels that are missing.

The first 2,475 hotels (`DEMO_HOTELS`) come from one generator, city after city, as
they always have. `booking seed --hotels N` adds hotels 2,476 to N, spread over the
same cities in proportion to each city's share, each drawn by the same code from a
generator of its own (seeded by its id): hotel 30,000 is the same whatever N is.
"""
import random
from datetime import date
from itertools import islice

from sqlalchemy import select

from booking.kit.bulk import insert_rows
from booking.kit.schemas import minor_digits
from booking.search.catalogue import fold
from booking.search.models import Hotel, RatePlan, RateRule, RoomType

SEED = 20261121

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
# code, name, adults, price factor, adults and children together
ROOM_TYPES = [
    ("single", "Single Room", 1, 0.7, 1), ("double", "Double Room", 2, 1.0, 3),
    ("twin", "Twin Room", 2, 1.0, 2), ("deluxe", "Deluxe Double", 2, 1.45, 3),
    ("triple", "Triple Room", 3, 1.3, 3), ("family", "Family Room", 4, 1.6, 5),
    ("junior-suite", "Junior Suite", 3, 2.0, 4), ("suite", "Suite", 4, 2.9, 5),
]
# country: its currency, units of it for a euro, VAT on rooms (basis points)
COUNTRIES = {
    "France": ("EUR", 1, 1000), "United Kingdom": ("GBP", 0.86, 2000), "Italy": ("EUR", 1, 1000),
    "Germany": ("EUR", 1, 700), "Spain": ("EUR", 1, 1000), "Netherlands": ("EUR", 1, 900),
    "Portugal": ("EUR", 1, 600), "Austria": ("EUR", 1, 1000), "Czechia": ("CZK", 25, 1200),
    "United States": ("USD", 1.08, 0), "Japan": ("JPY", 165, 1000), "Switzerland": ("CHF", 0.95, 380),
    "Belgium": ("EUR", 1, 600), "Denmark": ("DKK", 7.46, 2500), "Sweden": ("SEK", 11.3, 1200),
    "Norway": ("NOK", 11.6, 1200), "Finland": ("EUR", 1, 1000), "Ireland": ("EUR", 1, 1350),
    "Hungary": ("HUF", 395, 1800), "Poland": ("PLN", 4.3, 800), "Greece": ("EUR", 1, 1300),
    "Türkiye": ("TRY", 37, 1000), "Iceland": ("ISK", 150, 1100), "Slovenia": ("EUR", 1, 950),
    "Croatia": ("EUR", 1, 1300), "Estonia": ("EUR", 1, 1300), "Latvia": ("EUR", 1, 1200),
    "Lithuania": ("EUR", 1, 900), "Slovakia": ("EUR", 1, 1000), "Canada": ("CAD", 1.47, 1300),
    "Mexico": ("MXN", 18.5, 1600), "Brazil": ("BRL", 5.4, 0), "Argentina": ("ARS", 950, 2100),
    "South Korea": ("KRW", 1450, 1000), "Singapore": ("SGD", 1.45, 900), "China": ("HKD", 8.4, 0),
    "Thailand": ("THB", 38, 700), "Australia": ("AUD", 1.65, 1000), "South Africa": ("ZAR", 20, 1500),
    "Morocco": ("MAD", 10.8, 1000), "United Arab Emirates": ("AED", 3.97, 500),
}
# city tax per adult and night, in the city's currency
CITY_TAX = {"Paris": 3, "Rome": 6, "Florence": 5, "Venice": 5, "Milan": 5, "Barcelona": 4, "Lisbon": 4,
            "Porto": 2, "Amsterdam": 5, "Brussels": 4, "Prague": 50, "Tokyo": 200, "Kyoto": 200,
            "Zürich": 2.5, "Geneva": 3.75, "Budapest": 600, "Athens": 3, "Dubrovnik": 2}
# where seasons are the other way round
SOUTHERN = {"São Paulo", "Buenos Aires", "Sydney", "Melbourne", "Cape Town"}
# the time zone of each city
ZONES = {
    "Paris": "Europe/Paris", "London": "Europe/London", "Rome": "Europe/Rome", "Berlin": "Europe/Berlin",
    "Madrid": "Europe/Madrid", "Amsterdam": "Europe/Amsterdam", "Lisbon": "Europe/Lisbon",
    "Vienna": "Europe/Vienna", "Prague": "Europe/Prague", "New York": "America/New_York",
    "Tokyo": "Asia/Tokyo", "Zürich": "Europe/Zurich", "Barcelona": "Europe/Madrid", "Milan": "Europe/Rome",
    "Munich": "Europe/Berlin", "Brussels": "Europe/Brussels", "Copenhagen": "Europe/Copenhagen",
    "Stockholm": "Europe/Stockholm", "Oslo": "Europe/Oslo", "Helsinki": "Europe/Helsinki",
    "Dublin": "Europe/Dublin", "Edinburgh": "Europe/London", "Budapest": "Europe/Budapest",
    "Warsaw": "Europe/Warsaw", "Kraków": "Europe/Warsaw", "Łódź": "Europe/Warsaw", "Athens": "Europe/Athens",
    "Istanbul": "Europe/Istanbul", "Reykjavík": "Atlantic/Reykjavik", "Porto": "Europe/Lisbon",
    "Seville": "Europe/Madrid", "Florence": "Europe/Rome", "Venice": "Europe/Rome", "Nice": "Europe/Paris",
    "Lyon": "Europe/Paris", "Geneva": "Europe/Zurich", "Hamburg": "Europe/Berlin",
    "Ljubljana": "Europe/Ljubljana", "Zagreb": "Europe/Zagreb", "Dubrovnik": "Europe/Zagreb",
    "Tallinn": "Europe/Tallinn", "Riga": "Europe/Riga", "Vilnius": "Europe/Vilnius",
    "Bratislava": "Europe/Bratislava", "San Francisco": "America/Los_Angeles", "Chicago": "America/Chicago",
    "Montréal": "America/Toronto", "Toronto": "America/Toronto", "México City": "America/Mexico_City",
    "São Paulo": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Kyoto": "Asia/Tokyo", "Osaka": "Asia/Tokyo", "Seoul": "Asia/Seoul", "Singapore": "Asia/Singapore",
    "Hong Kong": "Asia/Hong_Kong", "Bangkok": "Asia/Bangkok", "Sydney": "Australia/Sydney",
    "Melbourne": "Australia/Melbourne", "Cape Town": "Africa/Johannesburg", "Marrakech": "Africa/Casablanca",
    "Dubai": "Asia/Dubai",
}
# every year: (name, first night, last night) of the high and low seasons, north and south
SEASONS = {
    False: (("Summer season", (6, 15), (9, 15)), ("Winter low season", (1, 7), (3, 15))),
    True: (("Summer season", (12, 15), (2, 28)), ("Winter low season", (6, 1), (8, 31))),
}
FRIDAY_SATURDAY, SUNDAY, FRIDAY = "45", "6", "4"
STAR_PRICE = {1: 45, 2: 65, 3: 95, 4: 140, 5: 260}
DESCRIPTIONS = [
    "A {adjective} {stars}-star hotel in the heart of {city}, a short walk from {sight}.",
    "Quiet rooms, friendly staff and {adjective} views over {city}, close to {sight}.",
    "A {adjective} base for exploring {city}: {sight} is ten minutes away.",
]
ADJECTIVES = ["charming", "modern", "elegant", "cosy", "stylish", "historic", "bright"]
SIGHTS = ["the old town", "the main station", "the river", "the museums", "the cathedral"]


DEMO_HOTELS = sum(count for _, _, count, _ in CITIES)  # 2,475
# hotels inserted per statement batch: bounds the memory a large catalogue takes
SEED_CHUNK = 2000


def demo_hotels(count=DEMO_HOTELS):
    """Every demo hotel up to id `count`, with its room types, plans and calendar, in
    id order, as model objects. Deterministic."""
    for record in demo_catalogue(count):
        yield as_hotel(record)


def demo_catalogue(count=DEMO_HOTELS, leave_out=frozenset()):
    """The demo hotels 1 to `count` as plain records (a dict of the hotel's columns,
    with `room_types`, each with `rate_plans`, and `rate_rules`), in id order, but
    for the ids in `leave_out`. Deterministic."""
    for record in _first_hotels():
        if record["id"] > count:
            return
        if record["id"] not in leave_out:
            yield record
    for hotel_id in range(DEMO_HOTELS + 1, count + 1):
        if hotel_id not in leave_out:
            yield more_hotel(hotel_id)


def _first_hotels():
    """The first 2,475 hotels: one generator, city after city, as always."""
    rng = random.Random(SEED)
    hotel_id = 0
    for city, country, count, price_level in CITIES:
        names = set()
        for _ in range(count):
            hotel_id += 1
            yield _hotel(rng, hotel_id, city, country, price_level, names)


def more_hotel(hotel_id):
    """A hotel beyond the first 2,475, from a generator of its own. Its name may be
    another hotel's of the same city (as a chain's is): uniqueness would make each
    hotel depend on all those before it."""
    city, country, _, price_level = CITIES[city_of(hotel_id)]
    return _hotel(random.Random(f"{SEED} hotel {hotel_id}"), hotel_id, city, country, price_level, set())


def _spread(weights):
    """A cycle of city indexes in which each city comes up `weights[i]` times, as
    evenly as possible (smooth weighted round robin): any run of hotels along it
    is close to the cities' shares, not Paris first."""
    total, credit, order = sum(weights), [0] * len(weights), []
    for _ in range(total):
        for index, weight in enumerate(weights):
            credit[index] += weight
        chosen = max(range(len(weights)), key=lambda index: credit[index])
        credit[chosen] -= total
        order.append(chosen)
    return order


CITY_CYCLE = _spread([count for _, _, count, _ in CITIES])


def city_of(hotel_id):
    """The index in CITIES of a hotel beyond the first 2,475."""
    return CITY_CYCLE[(hotel_id - DEMO_HOTELS - 1) % len(CITY_CYCLE)]


def _hotel(rng, hotel_id, city, country, price_level, names):
    stars = rng.choices([1, 2, 3, 4, 5], weights=[5, 15, 40, 30, 10])[0]
    name = _unique_name(rng, city, names)
    hotel = {
        "id": hotel_id,
        "name": name,
        "address": f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {city}",
        "city": city,
        "city_key": fold(city),
        "country": country,
        "stars": stars,
        "description": rng.choice(DESCRIPTIONS).format(
            adjective=rng.choice(ADJECTIVES), stars=stars, city=city, sight=rng.choice(SIGHTS)
        ),
        "amenities": sorted(rng.sample(AMENITIES, rng.randint(3, 8))),
        "policies_text": None,
    }
    hotel["room_types"] = list(_room_types(rng, stars, price_level))
    _price_locally(hotel, city, country)
    return hotel


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
    for code, name, guests, factor, occupancy in sorted(chosen, key=lambda room: room[3]):
        nightly = STAR_PRICE[stars] * price_level * factor * rng.uniform(0.85, 1.2)
        yield {
            "code": code,
            "name": name,
            "max_guests": guests,
            "max_occupancy": occupancy,
            "room_count": max(2, round(rng.randint(4, 40) * size)),
            "price_minor": round(nightly) * 100,  # in euros for now: _price_locally converts
            "currency": "EUR",
        }


def restricted(hotel_id):
    """Whether the demo hotel's calendar has restrictions (closed days, minimum
    stays, days closed to arrival): one hotel in seven. Tests that book random
    dates choose among the others."""
    return hotel_id % 7 == 3


def _price_locally(hotel, city, country):
    """The hotel's prices in its country's currency, its taxes, zone, times, rate
    plans and calendar, from a generator of its own (the hotels stay as before)."""
    rng = random.Random(SEED * 1000 + hotel["id"])
    currency, per_euro, vat = COUNTRIES[country]
    hotel.update(currency=currency, vat_basis_points=vat, timezone=ZONES[city])
    hotel["check_in_time"] = rng.choice(["14:00", "15:00", "15:00", "16:00"])
    hotel["check_out_time"] = rng.choice(["10:00", "11:00", "11:00", "12:00"])
    hotel["city_tax_minor"] = local_minor(CITY_TAX.get(city, 0), currency)
    free_hours = rng.choice([24, 48, 48, 72])
    penalty, percent = rng.choice([("first_night", None), ("first_night", None), ("percent", 50)])
    discount = rng.choice([10, 12, 15]) if rng.random() < 0.85 else None
    for room in hotel["room_types"]:
        room["currency"] = currency
        room["price_minor"] = local_minor(room["price_minor"] / 100 * per_euro, currency)
        room["rate_plans"] = [{"code": "flexible", "name": "Flexible", "price_minor": room["price_minor"],
                               "free_until_hours": free_hours, "penalty": penalty, "penalty_percent": percent}]
        if discount:
            room["rate_plans"].append({
                "code": "nonrefundable", "name": "Non-refundable",
                "price_minor": local_minor(room["price_minor"] / 10**minor_digits(currency) * (100 - discount) / 100,
                                           currency),
                "free_until_hours": None, "penalty": "all", "penalty_percent": None})
    hotel["rate_rules"] = list(_calendar(rng, hotel["id"], city))


def local_minor(amount, currency):
    """A price in minor units, rounded as a hotel would: to whole units, or to
    hundreds where a unit is worth little (JPY, HUF, ...)."""
    digits = minor_digits(currency)
    step = 100 if amount >= 2000 else 1
    return round(amount / step) * step * 10**digits


def _calendar(rng, hotel_id, city):
    """High and low seasons by hemisphere, weekend prices; for restricted hotels,
    closed days around Christmas, Friday arrivals for two nights at least and no
    arrivals on Sundays. Every rule recurs each year."""
    high, low = SEASONS[city in SOUTHERN]
    yield yearly(high[0], high[1], high[2], adjust_percent=rng.choice([15, 20, 25, 30]))
    yield yearly(low[0], low[1], low[2], adjust_percent=-rng.choice([10, 15, 20]))
    if rng.random() < 0.85:
        # leisure hotels charge more at weekends, business hotels less
        yield yearly("Weekend", (1, 1), (12, 31), weekdays=FRIDAY_SATURDAY,
                     adjust_percent=rng.choice([10, 15, 20, -10]))
    if restricted(hotel_id):
        yield yearly("Closed for Christmas", (12, 24), (12, 26), closed=True)
        yield yearly("Weekend stays", (1, 1), (12, 31), weekdays=FRIDAY, min_stay=2)
        yield yearly("No Sunday arrivals", (1, 1), (12, 31), weekdays=SUNDAY, closed_to_arrival=True)


RULE_FIELDS = ("room_type", "rate_plan", "weekdays", "price_minor", "adjust_percent", "adjust_minor", "closed",
               "closed_to_arrival", "min_stay", "max_stay")


def yearly(name, first, last, **rule):
    """A rule over the same nights every year (the year 2000 stands for any), as a
    record of `rate_rules`' columns."""
    return {"name": name, "starts": date(2000, *first), "ends": date(2000, *last), "every_year": True,
            **{field: rule.get(field) for field in RULE_FIELDS}}


def as_hotel(record):
    """A hotel record of `demo_catalogue` as model objects."""
    hotel = Hotel(**_columns(record))
    hotel.room_types = [RoomType(**_columns(room), rate_plans=[RatePlan(**plan) for plan in room["rate_plans"]])
                        for room in record["room_types"]]
    hotel.rate_rules = [RateRule(**rule) for rule in record["rate_rules"]]
    return hotel


def _columns(record):
    return {key: value for key, value in record.items() if key not in ("room_types", "rate_plans", "rate_rules")}


def seed(session, hotels=DEMO_HOTELS):
    """Insert the demo hotels up to id `hotels` that are missing; return how many
    were inserted. In batches of plain rows (a catalogue of 100,000 hotels is
    1.4 million of them), not object by object."""
    existing = set(session.scalars(select(Hotel.id)))
    missing = demo_catalogue(hotels, leave_out=existing)
    added = 0
    while chunk := list(islice(missing, SEED_CHUNK)):
        _insert_hotels(session, chunk)
        added += len(chunk)
    return added


def _insert_hotels(session, records):
    insert_rows(session, Hotel.__table__, [_columns(record) for record in records])
    insert_rows(session, RoomType.__table__, [{**_columns(room), "hotel_id": record["id"]}
                                              for record in records for room in record["room_types"]])
    # the room types' ids, given by the database, for their plans
    room_ids = {(hotel_id, code): room_id for room_id, hotel_id, code in session.execute(
        select(RoomType.id, RoomType.hotel_id, RoomType.code)
        .where(RoomType.hotel_id.in_([record["id"] for record in records])))}
    insert_rows(session, RatePlan.__table__, [{**plan, "room_type_id": room_ids[(record["id"], room["code"])]}
                                              for record in records for room in record["room_types"]
                                              for plan in room["rate_plans"]])
    # in order: a calendar's rules apply in id order
    insert_rows(session, RateRule.__table__, [{**rule, "hotel_id": record["id"]}
                                              for record in records for rule in record["rate_rules"]])
