from datetime import timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from booking.kit import policies
from booking.kit.schemas import (
    MAX_ID,
    MAX_NIGHTS,
    Money,
    Schema,
    UtcDateTime,
    WholeNumber,
    check_stay,
    money,
    rooms_field,
    today,
)
from booking.kit.times import as_utc
from booking.reservations.states import holding as holding_of

MAX_DAYS_AHEAD = 500


def check_bookable(check_in, check_out):
    check_stay(check_in, check_out)
    if check_in > today() + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationError(f"Bookings open {MAX_DAYS_AHEAD} days ahead.", "check_in")


class HoldRequest(Schema):
    """Several rooms (`rooms`), or one room of `room_type` for `guests` adults on the
    flexible plan (the request from before rate plans, which keeps its meaning)."""

    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    rooms = rooms_field(load_default=None)
    room_type = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    guests = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def validate_stay(self, data, **kwargs):
        if (data.get("rooms") is None) == (data.get("room_type") is None):
            raise ValidationError("Give rooms, or room_type (one room), not both.", "rooms")
        if data.get("rooms") is not None and data.get("guests") is not None:
            raise ValidationError("With rooms, give adults and children in each room.", "guests")
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if check_in is not None and check_out is not None:
            check_bookable(check_in, check_out)


class ChangeRequest(Schema):
    """New dates, new rooms, or both; a card (as a bank token) if the new stay costs more."""

    reservation_id = fields.String(required=True, validate=validate.Regexp(r"^BK[0-9A-Z]{8}$"))
    check_in = fields.Date(load_default=None)
    check_out = fields.Date(load_default=None)
    rooms = rooms_field(load_default=None)
    card = fields.Dict(load_default=None)
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def validate_change(self, data, **kwargs):
        if (data.get("check_in") is None) != (data.get("check_out") is None):
            raise ValidationError("Give both check_in and check_out, or neither.", "check_out")
        if data.get("check_in") is None and data.get("rooms") is None:
            raise ValidationError("Give new dates (check_in and check_out), new rooms, or both.", "check_in")
        if data.get("check_in") is not None:
            check_bookable(data["check_in"], data["check_out"])


def requested_rooms(request):
    """The rooms a hold asks for; the request from before rate plans is one room of
    `room_type` on the flexible plan for `guests` adults."""
    if request["rooms"] is not None:
        return request["rooms"]
    return [{"room_type": request["room_type"], "rate_plan": "flexible", "adults": request["guests"] or 1,
             "children": []}]


class CancellationSchema(Schema):
    """What cancelling refunds and keeps: `terms.cancellation`'s figures with the
    reservation's currency and policy."""

    refund = Money(attribute="refund_minor", allow_none=True)
    penalty = Money(attribute="kept_minor")
    free = fields.Boolean()
    # the rooms (line numbers) it is about
    rooms = fields.List(fields.Integer(), attribute="lines")
    cancellation_policy = fields.Dict()


class CancelRequest(Schema):
    reservation_id = fields.String(required=True, validate=validate.Regexp(r"^BK[0-9A-Z]{8}$"))
    # one room of several (its line number), or the whole booking
    room = WholeNumber(load_default=None, validate=validate.Range(min=1, max=100))


class ReservationIdRequest(Schema):
    reservation_id = fields.String(required=True, validate=validate.Regexp(r"^BK[0-9A-Z]{8}$"))


class AvailabilityRequest(Schema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)

    @validates_schema
    def validate_stay(self, data, **kwargs):
        if data["check_out"] <= data["check_in"]:
            raise ValidationError("Check-out must be after check-in.", "check_out")
        if (data["check_out"] - data["check_in"]).days > MAX_NIGHTS:
            raise ValidationError(f"A stay is at most {MAX_NIGHTS} nights.", "check_out")


class BookedRoomSchema(Schema):
    line = fields.Integer()
    room_type = fields.String()
    room_name = fields.String()
    rate_plan = fields.String()
    rate_plan_name = fields.String()
    adults = fields.Integer()
    children = fields.List(fields.Integer())
    check_in = fields.Date()
    check_out = fields.Date()
    nights = fields.Method("priced_nights")
    price = Money(attribute="price_minor")
    city_tax = Money(attribute="city_tax_minor")
    total = Money(attribute="total_minor")
    cancellation_policy = fields.Method("policy_of")
    # active | cancelled | changed (replaced by a change)
    status = fields.String()

    def priced_nights(self, line):
        return [{"date": night["date"], "price": money(night["price_minor"], line.currency)} for night in line.nights]

    def policy_of(self, line):
        return policy_terms(line.policy, line.deadline, line.timezone, line.penalty_minor, line.currency)


def policy_terms(policy, deadline, timezone, penalty_minor, currency):
    deadline = as_utc(deadline) if deadline is not None else None
    return {
        "free_until_hours": policy.get("free_until_hours"), "penalty_kind": policy["penalty"],
        "penalty_percent": policy.get("penalty_percent"),
        "deadline": deadline.isoformat() if deadline else None,
        "deadline_local": policies.local_time(deadline, timezone).isoformat() if deadline else None,
        "timezone": timezone, "penalty": money(penalty_minor, currency),
        "description": policies.describe(policy, deadline, timezone, penalty_minor, currency),
    }


class ReservationSchema(Schema):
    id = fields.String()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    user_id = fields.Integer()
    hotel_id = fields.Integer()
    hotel_name = fields.String()
    hotel_address = fields.String()
    room_type = fields.String()
    room_name = fields.String()
    check_in = fields.Date()
    check_out = fields.Date()
    nights = fields.Method("count_nights")
    guests = fields.Integer()
    rooms = fields.Integer()
    nightly_price = Money(attribute="nightly_price_minor")
    total = Money(attribute="total_minor")
    expires_at = UtcDateTime()
    created_at = UtcDateTime()
    payment_id = fields.String(allow_none=True)
    # the bank's reason the last card tried was refused (`card_declined`, ...), while held
    last_payment_failure = fields.String(allow_none=True)
    refunded = fields.Boolean()
    city_tax = Money(attribute="city_tax_minor")
    # penalties kept for cancelled rooms, and refunds granted so far
    kept = Money(attribute="kept_minor")
    refund = Money(attribute="refund_minor")
    timezone = fields.String()
    check_in_time = fields.String()
    check_out_time = fields.Method("check_out_time_of")
    # VAT included in the prices, in percent
    vat_rate = fields.Method("vat_rate_of")
    booked_rooms = fields.Method("lines_of")
    cancellation_policy = fields.Method("policy_of")

    def count_nights(self, reservation):
        return (reservation.check_out - reservation.check_in).days

    def check_out_time_of(self, reservation):
        return ((reservation.quote or {}).get("hotel") or {}).get("check_out_time", "11:00")

    def vat_rate_of(self, reservation):
        # bookings from before quotes were priced with 10% VAT included
        return (reservation.quote or {}).get("vat_rate", "10.00")

    def lines_of(self, reservation):
        return BookedRoomSchema(many=True).dump(reservation.lines)

    def policy_of(self, reservation):
        """The policy in one sentence (one per room if they differ) and its earliest deadline."""
        lines = reservation.active_lines or reservation.lines
        if not lines:
            return None
        terms = [policy_terms(line.policy, line.deadline, reservation.timezone, line.penalty_minor,
                              reservation.currency) for line in lines]
        descriptions = list(dict.fromkeys(t["description"] for t in terms))
        if len(descriptions) > 1:
            descriptions = [f"{line.room_name}: {t['description']}" for line, t in zip(lines, terms, strict=True)]
        deadlines = [t["deadline"] for t in terms if t["deadline"]]
        return {"deadline": min(deadlines, default=None),
                "deadline_local": min((t["deadline_local"] for t in terms if t["deadline"]), default=None),
                "timezone": reservation.timezone, "description": " ".join(descriptions)}


class ReservationEvent(Schema):
    """What every reservation event carries: enough for search's availability,
    payments' refunds and users' e-mails."""

    reservation_id = fields.String(attribute="id")
    user_id = fields.Integer()
    hotel_id = fields.Integer()
    hotel_name = fields.String()
    room_type = fields.String()
    check_in = fields.Date()
    check_out = fields.Date()
    rooms = fields.Integer()
    status = fields.String()
    reason = fields.String(attribute="status_reason", allow_none=True)
    total_minor = fields.Integer()
    currency = fields.String()
    payment_id = fields.String(allow_none=True)
    # each change of what it holds counts one more: search applies only newer versions
    version = fields.Integer()
    holding = fields.Function(holding_of)
    # refunds granted so far, in all (payments gives back what it has not yet)
    refund_minor = fields.Integer()
    kept_minor = fields.Integer()


# -- the hotel's side ---------------------------------------------------------------

class HotelIdRequest(Schema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class CapacityRequest(HotelIdRequest):
    room_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    rooms = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000))


class NightsRequest(HotelIdRequest):
    start = fields.Date(required=True)
    end = fields.Date(required=True)

    @validates_schema
    def validate_range(self, data, **kwargs):
        if "start" in data and "end" in data and not 0 <= (data["end"] - data["start"]).days < MAX_DAYS_AHEAD:
            raise ValidationError(f"From 1 to {MAX_DAYS_AHEAD} nights, the last after the first.", "end")


class HotelReservationsRequest(HotelIdRequest):
    arrival = fields.Date(load_default=None)
    departure = fields.Date(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(
        ("held", "confirmed", "checked_in", "checked_out", "no_show", "cancelled", "expired")))
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class MonthRequest(HotelIdRequest):
    month = fields.String(required=True, validate=validate.Regexp(
        r"\A20[0-9]{2}-(0[1-9]|1[0-2])\Z", error="A month such as 2027-01."),
        metadata={"pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])$"})


class PartnerReservationSchema(Schema):
    """A reservation as its hotel sees it: the guest's name and address, never card data."""

    id = fields.String()
    status = fields.String()
    check_in = fields.Date()
    check_out = fields.Date()
    nights = fields.Method("count_nights")
    rooms = fields.Integer()
    guests = fields.Integer()
    room_name = fields.String()
    guest_name = fields.String(allow_none=True)
    guest_email = fields.String(allow_none=True)
    total = Money(attribute="total_minor")
    refund = Money(attribute="refund_minor")
    kept = Money(attribute="kept_minor")
    created_at = UtcDateTime()

    def count_nights(self, reservation):
        return (reservation.check_out - reservation.check_in).days


class StayToComeSchema(Schema):
    """A confirmed stay not over yet, as a guest deleting the account is told of it."""
    id = fields.String()
    hotel_name = fields.String()
    check_in = fields.Date()
    check_out = fields.Date()
