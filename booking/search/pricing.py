"""The rate calendar and quotes: plain functions of catalogue objects (a hotel, its
room types, plans and rules), no session, so that they are tested fast and the
same code prices a search, a hotel page and a quote.
"""
from datetime import date
from typing import NamedTuple

from booking.kit import policies
from booking.kit.bank import MAX_CHARGE_MINOR
from booking.kit.schemas import included_vat, money
from booking.kit.times import nights as nights_of
from booking.search.exceptions import RoomNotSellable


class Rule(NamedTuple):
    """A rate rule as pricing reads it, from a `RateRule` or a row of its columns:
    plain attributes, the weekdays as a set (a city's search reads thousands)."""

    room_type: str | None
    rate_plan: str | None
    starts: date
    ends: date
    every_year: bool
    days: frozenset | None
    price_minor: int | None
    adjust_percent: int | None
    adjust_minor: int | None
    closed: bool | None
    closed_to_arrival: bool | None
    min_stay: int | None
    max_stay: int | None

    @classmethod
    def of(cls, rule):
        return cls(rule.room_type, rule.rate_plan, rule.starts, rule.ends, rule.every_year,
                   frozenset(int(day) for day in rule.weekdays) if rule.weekdays else None, rule.price_minor,
                   rule.adjust_percent, rule.adjust_minor, rule.closed, rule.closed_to_arrival, rule.min_stay,
                   rule.max_stay)


def covers(rule, night):
    """Whether `rule` (a `Rule`) applies to `night` (its dates, every year or once, and weekdays)."""
    if rule.days is not None and night.weekday() not in rule.days:
        return False
    if not rule.every_year:
        return rule.starts <= night <= rule.ends
    day, starts, ends = (night.month, night.day), (rule.starts.month, rule.starts.day), (rule.ends.month, rule.ends.day)
    if starts <= ends:
        return starts <= day <= ends
    return day >= starts or day <= ends  # over the new year: December to February


def applies(rule, room_type, plan):
    return rule.room_type in (None, "", room_type) and rule.rate_plan in (None, "", plan)


def said(rules, night, restriction):
    """What the last rule covering `night` that says anything of `restriction`
    (closed, closed_to_arrival, min_stay) says; None if none does (every rule of
    `rules` if `night` is None: they are known to cover it)."""
    for rule in reversed(rules):
        value = getattr(rule, restriction)
        if value is not None and (night is None or covers(rule, night)):
            return value
    return None


def night_price(base_minor, rules, night):
    """The price of one night: the base, then each rule covering it, in order (every
    rule of `rules` if `night` is None: they are known to cover it)."""
    price = base_minor
    for rule in rules:
        if night is not None and not covers(rule, night):
            continue
        if rule.price_minor is not None:
            price = rule.price_minor
        if rule.adjust_percent:
            price = (price * (100 + rule.adjust_percent) + 50) // 100
        if rule.adjust_minor:
            price += rule.adjust_minor
    return max(price, 0)


def rules_for(rules, room_type, plan):
    """The rules (as `Rule`s) that govern a room type's plan, in order."""
    return [Rule.of(rule) if not isinstance(rule, Rule) else rule for rule in rules if applies(rule, room_type, plan)]


def night_prices(base_minor, rules, check_in, check_out):
    """[(night, price)] of a stay, for the rules of one room type and plan."""
    return [(night, night_price(base_minor, rules, night)) for night in nights_of(check_in, check_out)]


def refusal(rules, check_in, check_out):
    """Why the stay cannot be sold under these rules, as (field, message), or None:
    a closed night, an arrival on a day closed to arrival, too short or too long a
    stay for its arrival day."""
    stay = nights_of(check_in, check_out)
    closed = [night for night in stay if said(rules, night, "closed")]
    if closed:
        return "check_in", "The hotel does not sell these rooms on " + ", ".join(map(str, closed[:5])) + "."
    return arrival_refusal([rule for rule in rules if covers(rule, check_in)], check_in, len(stay))


def arrival_refusal(arrival, check_in, length):
    """Why a stay of `length` nights cannot start on `check_in` under `arrival`, the
    rules covering that day, as (field, message), or None."""
    closed, min_stay, max_stay = arrival_terms(arrival)
    if closed:
        return "check_in", f"Arrivals are not possible on {check_in}."
    if length < min_stay:
        return "check_out", f"Arriving on {check_in}, the stay is at least {min_stay} nights."
    if max_stay and length > max_stay:
        return "check_out", f"Arriving on {check_in}, the stay is at most {max_stay} nights."
    return None


def arrival_terms(arrival):
    """What `arrival`, the rules covering an arrival day, say of stays that start then:
    (closed to arrival, the fewest nights, the most nights or 0 for no limit)."""
    return (bool(said(arrival, None, "closed_to_arrival")), said(arrival, None, "min_stay") or 1,
            min((rule.max_stay for rule in arrival if rule.max_stay), default=0))


def sellable(rules, check_in, check_out):
    return refusal(rules, check_in, check_out) is None


def plan_offer(hotel, room, plan, check_in, check_out, adults=1):
    """A plan as the hotel page lists it for a stay: its price for one room (None if
    not sold then) and its policy for `adults` (the city tax is part of what a
    penalty of everything keeps)."""
    offer = {"code": plan.code, "name": plan.name, "base_price_minor": plan.price_minor,
             "currency": hotel.currency, "stay_price_minor": None, "cancellation_policy": None}
    if check_in is None:
        return offer
    plan_rules = rules_for(hotel.rate_rules, room.code, plan.code)
    if not sellable(plan_rules, check_in, check_out):
        return offer
    prices = [price for _, price in night_prices(plan.price_minor, plan_rules, check_in, check_out)]
    offer["stay_price_minor"] = price = sum(prices)
    city_tax = hotel.city_tax_minor * adults * len(prices)
    offer["cancellation_policy"] = policy_terms(hotel, plan.policy, check_in, prices, price + city_tax)
    return offer


def cheapest_stay(offers, rules, check_in, check_out):
    """The cheapest price of one room for the stay among `offers` [(room type, plan,
    base price)] under a hotel's `rules`, or None if none is sold on those dates."""
    return StayPrices(offers, rules).cheapest(check_in, check_out)


class StayPrices:
    """The cheapest stay of one room among a hotel's offers, as a search asks it of a
    whole city at a time. Offers that the same rules govern (most of them: a season
    or a weekend price is the whole hotel's) are grouped once and share one reading
    of the calendar; which of a group's rules cover each night is read once and
    kept, in a byte a night (a few kilobytes a hotel: a search reads a city's
    hotels over a year of nights). Where no rule sets a price, a dearer base never
    makes a cheaper stay, so only the cheapest is priced."""

    UNREAD = 255  # a night whose rules are not read yet

    def __init__(self, offers, rules):
        self.offers_and_rules = (tuple(offers), tuple(rules))
        groups = {}
        for room_type, plan, base in offers:
            groups.setdefault(tuple(rule for rule in rules if applies(rule, room_type, plan)), []).append(
                (room_type, base))
        self.groups = [(governing, bases, any(rule.price_minor is not None for rule in governing))
                       for governing, bases in groups.items()]
        # per group: the distinct readings of its rules, (closed, the rules covering a
        # night), and for each night from `first` on, the index of its reading
        self.readings = [[] for _ in self.groups]
        self.nights = [bytearray() for _ in self.groups]
        self.first = None
        self.grid = None  # its grid of the latest window (booking/search/grid.py)

    def cheapest(self, check_in, check_out, room_types=None):
        """The cheapest price of the stay among the offers of `room_types` (all if None);
        None if none is sold on those dates."""
        stay, best = nights_of(check_in, check_out), None
        for group, (_, offers, sets_price) in enumerate(self.groups):
            bases = [base for room_type, base in offers if room_types is None or room_type in room_types]
            if not bases:
                continue
            each_night = [self._reading(group, night) for night in stay]
            if any(closed for closed, _ in each_night) or arrival_refusal(each_night[0][1], check_in, len(stay)):
                continue
            for base in bases if sets_price else [min(bases)]:
                price = sum(night_price(base, covering, None) for _, covering in each_night)
                best = price if best is None else min(best, price)
        return best

    def _reading(self, group, night):
        """(closed, the rules of `group` covering `night`)."""
        if self.first is None:
            self.first = night.toordinal()
        offset, nights, readings = night.toordinal() - self.first, self.nights[group], self.readings[group]
        if 0 <= offset < len(nights) and nights[offset] != self.UNREAD:
            return readings[nights[offset]]
        covering = [rule for rule in self.groups[group][0] if covers(rule, night)]
        reading = (bool(said(covering, None, "closed")), covering)
        if offset < 0 or len(readings) >= self.UNREAD:
            return reading  # before the first night asked, or a calendar too varied to keep
        if reading not in readings:
            readings.append(reading)
        nights.extend([self.UNREAD] * (offset + 1 - len(nights)))
        nights[offset] = readings.index(reading)
        return reading


def policy_terms(hotel, policy, check_in, prices, room_total):
    """A room's policy as data: the deadline as an instant (UTC) and in the hotel's
    time, the penalty after it, and one sentence."""
    deadline = policies.deadline(policy, check_in, hotel.check_in_time, hotel.timezone)
    penalty = policies.penalty_after_deadline(policy, prices, room_total)
    return {
        **policy,
        "deadline": deadline,
        "deadline_local": policies.local_time(deadline, hotel.timezone) if deadline else None,
        "timezone": hotel.timezone,
        "penalty_minor": penalty,
        "currency": hotel.currency,
        "description": policies.describe(policy, deadline, hotel.timezone, penalty, hotel.currency),
    }


def quote(hotel, check_in, check_out, requested):
    """Price a stay of one or more rooms: `requested` is a list of {room_type,
    rate_plan, adults, children (ages)}. Raises RoomNotSellable naming the field
    at fault. Every amount is in minor units of the hotel's currency."""
    by_code = {room.code: room for room in hotel.room_types}
    rooms = []
    for index, wanted in enumerate(requested):
        field = f"rooms.{index}"
        room = by_code.get(wanted["room_type"])
        if room is None:
            raise RoomNotSellable("This hotel has no such room type", details={f"{field}.room_type": "unknown"})
        plan = next((p for p in room.rate_plans if p.code == wanted["rate_plan"]), None)
        if plan is None:
            raise RoomNotSellable("This room type has no such rate plan",
                                  details={f"{field}.rate_plan": "unknown"})
        children = wanted.get("children") or []
        if wanted["adults"] > room.max_guests:
            raise RoomNotSellable(f"A {room.name} sleeps at most {room.max_guests} adults",
                                  details={f"{field}.adults": f"at most {room.max_guests}"})
        if wanted["adults"] + len(children) > room.occupancy:
            raise RoomNotSellable(f"A {room.name} sleeps at most {room.occupancy} people",
                                  details={f"{field}.children": f"at most {room.occupancy} people in all"})
        plan_rules = rules_for(hotel.rate_rules, room.code, plan.code)
        why = refusal(plan_rules, check_in, check_out)
        if why is not None:
            raise RoomNotSellable(why[1], details={why[0]: why[1]})
        priced = night_prices(plan.price_minor, plan_rules, check_in, check_out)
        price = sum(p for _, p in priced)
        city_tax = hotel.city_tax_minor * wanted["adults"] * len(priced)
        rooms.append({
            "room_type": room.code, "room_name": room.name, "rate_plan": plan.code, "rate_plan_name": plan.name,
            "adults": wanted["adults"], "children": children, "capacity": room.room_count,
            "currency": hotel.currency,
            "nights": [{"date": night, "price_minor": p, "currency": hotel.currency} for night, p in priced],
            "price_minor": price, "city_tax_minor": city_tax, "total_minor": price + city_tax,
            "cancellation_policy": policy_terms(hotel, plan.policy, check_in, [p for _, p in priced],
                                                price + city_tax),
        })
    room_total = sum(room["price_minor"] for room in rooms)
    city_tax = sum(room["city_tax_minor"] for room in rooms)
    if room_total + city_tax > MAX_CHARGE_MINOR:  # refused now, not once the guest gives a card
        most = money(MAX_CHARGE_MINOR, hotel.currency)
        raise RoomNotSellable(f"This stay costs more than one card payment can take ({most['amount']} "
                              f"{most['currency']} at most): book fewer rooms or nights",
                              details={"rooms": "total above what one payment can take"})
    return {
        "hotel": hotel_facts(hotel),
        "check_in": check_in, "check_out": check_out, "currency": hotel.currency, "rooms": rooms,
        "room_total_minor": room_total,
        "vat_minor": included_vat(room_total, hotel.vat_basis_points), "vat_basis_points": hotel.vat_basis_points,
        "city_tax_minor": city_tax, "total_minor": room_total + city_tax,
        "cancellation_policy": combined_policy(rooms, hotel.currency),
    }


def hotel_facts(hotel):
    return {"id": hotel.id, "name": hotel.name, "address": hotel.address, "timezone": hotel.timezone,
            "check_in_time": hotel.check_in_time, "check_out_time": hotel.check_out_time}


def combined_policy(rooms, currency):
    """The booking's policy from its rooms': free until the earliest deadline, the
    penalties added, one sentence (one per room where they differ)."""
    terms = [room["cancellation_policy"] for room in rooms]
    deadline = min((t["deadline"] for t in terms if t["deadline"] is not None), default=None)
    if len({t["description"] for t in terms}) == 1:
        description = terms[0]["description"]
    else:
        description = " ".join(f"{room['room_name']}: {t['description']}"
                               for t, room in zip(terms, rooms, strict=True))
    return {
        "deadline": deadline,
        "deadline_local": policies.local_time(deadline, terms[0]["timezone"]) if deadline else None,
        "timezone": terms[0]["timezone"],
        "penalty_minor": sum(t["penalty_minor"] for t in terms),
        "currency": currency,
        "refundable": any(t["deadline"] is not None or t["penalty"] == "none" for t in terms),
        "description": description,
    }
