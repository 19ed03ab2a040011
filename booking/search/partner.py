"""The hotels' side of the catalogue: a manager runs the profile, room types and rate
calendar of the hotels search says are theirs (`hotel_managers`); an operator (scope
`admin`) runs every hotel, and adds hotels and managers. Plain functions of a session.

A calendar edit is one more rule of the rate calendar (`rate_rules`), over the nights
edited, for a room type and one plan or all: later rules win, so it overrides what
the seasons or an earlier edit said of those nights, and leaves the rest alone."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from booking.kit.errors import ValidationFailed
from booking.kit.schemas import MINOR_DIGITS, to_minor
from booking.search import pricing
from booking.search.catalogue import WHOLE_HOTEL, fold
from booking.search.exceptions import HotelNotFound, RoomTypeExists, RoomTypeNotFound
from booking.search.models import Hotel, HotelManager, RatePlan, RateRule, RoomType

# a new room type's plan: free until a day before, then the first night
NEW_PLAN = {"code": "flexible", "name": "Flexible", "free_until_hours": 24, "penalty": "first_night",
            "penalty_percent": None}


def operates(caller):
    return "admin" in caller.scopes


def managed_hotel(session, caller, hotel_id):
    """The hotel, with everything a price needs, if the caller manages it (an operator
    manages all); else HotelNotFound, as if it did not exist."""
    query = select(Hotel).where(Hotel.id == hotel_id).options(*WHOLE_HOTEL)
    if not operates(caller):
        query = query.where(Hotel.id.in_(select(HotelManager.hotel_id).where(HotelManager.user_id == caller.user_id)))
    hotel = session.scalar(query)
    if hotel is None:
        raise HotelNotFound(details={"hotel_id": str(hotel_id)})
    return hotel


def hotels_of(session, caller):
    query = select(Hotel).order_by(Hotel.name, Hotel.id)
    if not operates(caller):
        query = query.join(HotelManager, HotelManager.hotel_id == Hotel.id).where(
            HotelManager.user_id == caller.user_id)
    return list(session.scalars(query))


def profile(hotel):
    """The hotel as its manager sees it (PartnerHotelSchema)."""
    return {
        **{column: getattr(hotel, column) for column in (
            "id", "name", "city", "country", "stars", "currency", "timezone", "description", "address", "amenities",
            "check_in_time", "check_out_time", "policies_text", "vat_basis_points", "city_tax_minor")},
        "room_types": [{
            "code": room.code, "name": room.name, "max_guests": room.max_guests, "occupancy": room.occupancy,
            "room_count": room.room_count, "price_minor": room.price_minor, "currency": hotel.currency,
            "rate_plans": [{"code": plan.code, "name": plan.name, "price_minor": plan.price_minor,
                            "currency": hotel.currency, "policy": policy_sentence(plan.policy, hotel)}
                           for plan in room.rate_plans],
        } for room in hotel.room_types],
    }


def policy_sentence(policy, hotel):
    """A plan's policy in general words (no stay, so no date)."""
    hours = policy.get("free_until_hours")
    kept = {"first_night": "the first night", "all": "the whole price", "none": "nothing",
            "percent": f"{policy.get('penalty_percent')}% of the price"}.get(policy.get("penalty"), "a penalty")
    if policy.get("penalty") == "none":
        return "Free cancellation at any time."
    if hours is None:
        return f"Non-refundable: {kept} is kept whenever the guest cancels."
    return f"Free cancellation until {hours} hours before check-in ({hotel.check_in_time}, hotel time); " \
           f"after that, {kept} is kept."


def update_profile(hotel, changes):
    if "name" in changes:
        hotel.name = changes["name"].strip()
    for column in ("description", "address", "check_in_time", "check_out_time", "policies_text"):
        if column in changes:
            setattr(hotel, column, changes[column])
    if "amenities" in changes:
        hotel.amenities = list(dict.fromkeys(item.strip() for item in changes["amenities"] if item.strip()))


def minor_price(price, currency, field="price"):
    """The minor units of a typed price, refused if finer than the currency's digits."""
    if price is None:
        return None
    if -price.as_tuple().exponent > MINOR_DIGITS.get(currency, 2):
        raise ValidationFailed(details={field: [f"At most {MINOR_DIGITS.get(currency, 2)} decimals in {currency}."]})
    return to_minor(price, currency)


def add_room_type(session, hotel, request):
    if any(room.code == request["code"] for room in hotel.room_types):
        raise RoomTypeExists(details={"code": request["code"]})
    price = minor_price(request["price"], hotel.currency)
    room = RoomType(code=request["code"], name=request["name"].strip(), max_guests=request["max_adults"],
                    max_occupancy=request.get("max_occupancy"), room_count=request["rooms"], price_minor=price,
                    currency=hotel.currency)
    room.rate_plans.append(RatePlan(price_minor=price, **NEW_PLAN))
    hotel.room_types.append(room)
    session.flush()
    return room


def room_type_of(hotel, code):
    room = next((room for room in hotel.room_types if room.code == code), None)
    if room is None:
        raise RoomTypeNotFound(details={"room_type": code})
    return room


def check_room_type_update(room, request, currency):
    """Refuse what `update_room_type` would refuse, before anything is changed anywhere."""
    minor_price(request.get("price"), currency)
    adults = request.get("max_adults", room.max_guests)
    if request.get("max_occupancy", room.max_occupancy or adults) < adults:
        raise ValidationFailed(details={"max_occupancy": ["At least as many people as adults."]})


def update_room_type(room, request, currency):
    """A room type's name, occupancy and base price (its flexible plan's too, and the
    other plans' by the same difference). Its number of rooms is for the caller to
    settle with reservations first."""
    check_room_type_update(room, request, currency)
    if "name" in request:
        room.name = request["name"].strip()
    if "max_adults" in request:
        room.max_guests = request["max_adults"]
    if "max_occupancy" in request:
        room.max_occupancy = request["max_occupancy"]
    if "price" in request:
        price = minor_price(request["price"], currency)
        for plan in room.rate_plans:
            plan.price_minor = max(0, plan.price_minor + price - room.price_minor)
        room.price_minor = price


def calendar(hotel, start, end, booked):
    """Each night of `start`..`end` (both included), per room type: rooms sold and
    left (`booked`: {room type: {iso night: {"sold", "capacity"}}} from reservations);
    per plan: the price and the restrictions the calendar gives it."""
    dates = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    rooms = []
    for room in hotel.room_types:
        counts = booked.get(room.code, {})
        nights = []
        for night in dates:
            count = counts.get(night.isoformat(), {})
            sold = count.get("sold", 0)
            nights.append({"date": night, "sold": sold, "left": max(0, count.get("capacity", room.room_count) - sold)})
        plans = []
        for plan in room.rate_plans:
            rules = pricing.rules_for(hotel.rate_rules, room.code, plan.code)
            plans.append({"code": plan.code, "name": plan.name, "nights": [{
                "date": night, "price_minor": pricing.night_price(plan.price_minor, rules, night),
                "currency": hotel.currency,
                "closed": bool(pricing.said(rules, night, "closed")),
                "closed_to_arrival": bool(pricing.said(rules, night, "closed_to_arrival")),
                "min_stay": pricing.said(rules, night, "min_stay") or 1,
            } for night in dates]})
        rooms.append({"code": room.code, "name": room.name, "rooms": room.room_count, "nights": nights, "plans": plans})
    return {"hotel_id": hotel.id, "start": start, "end": end, "currency": hotel.currency, "dates": dates,
            "room_types": rooms}


def add_calendar_rule(session, hotel, request):
    """The manager's edit of some nights, as a rule after every other."""
    room = room_type_of(hotel, request["room_type"])
    plan = request["rate_plan"]
    if plan != "*" and all(known.code != plan for known in room.rate_plans):
        raise ValidationFailed(details={"rate_plan": [f"{room.name} has no plan {plan!r}."]})
    rule = RateRule(
        hotel_id=hotel.id, name=f"Set by the hotel on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", room_type=room.code,
        rate_plan=None if plan == "*" else plan, starts=request["start"], ends=request["end"], every_year=False,
        price_minor=minor_price(request.get("price"), hotel.currency), closed=request.get("closed"),
        closed_to_arrival=request.get("closed_to_arrival"), min_stay=request.get("min_stay"))
    session.add(rule)
    session.flush()
    session.refresh(hotel, ["rate_rules"])
    return rule


def create_hotel(session, request):
    """A new hotel, numbered after the last; no room types yet (its manager adds them)."""
    vat = request.get("vat_rate")
    hotel = Hotel(
        id=(session.scalar(select(func.max(Hotel.id))) or 0) + 1, name=request["name"].strip(),
        address=request["address"], city=request["city"].strip(), city_key=fold(request["city"]),
        country=request["country"], stars=request["stars"], description=request["description"],
        amenities=request["amenities"], timezone=request["timezone"], currency=request["currency"],
        check_in_time=request.get("check_in_time", "15:00"), check_out_time=request.get("check_out_time", "11:00"),
        vat_basis_points=1000 if vat is None else int(vat * 100), city_tax_minor=0)
    session.add(hotel)
    session.flush()
    return hotel


def grant(session, hotel_id, user_id):
    """`user_id` manages `hotel_id` (again: nothing changes)."""
    if session.get(Hotel, hotel_id) is None:
        raise HotelNotFound(details={"hotel_id": str(hotel_id)})
    known = session.scalar(select(HotelManager).where(HotelManager.hotel_id == hotel_id,
                                                      HotelManager.user_id == user_id))
    if known is None:
        session.add(HotelManager(hotel_id=hotel_id, user_id=user_id))
        session.flush()

