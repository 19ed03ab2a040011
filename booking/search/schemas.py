"""What search takes and what it returns."""
from marshmallow import ValidationError, fields, validate, validates_schema

from booking.kit.schemas import MAX_ID, Money, Schema, UtcDateTime, check_stay, rooms_field

MAX_PER_PAGE = 100
SORT_ORDERS = ("price", "stars", "name")


def in_cents(amount):
    """A price has cents, no finer: 150.555 is refused rather than read as another price."""
    if amount.is_finite() and amount.normalize().as_tuple().exponent < -2:
        raise ValidationError("At most two decimals.")


class StaySchema(Schema):
    """Optional dates of a stay: both or neither, check-out after check-in."""

    check_in = fields.Date(load_default=None)
    check_out = fields.Date(load_default=None)
    guests = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10))

    @validates_schema
    def validate_stay(self, data, **kwargs):
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if (check_in is None) != (check_out is None):
            missing = "check_out" if check_out is None else "check_in"
            raise ValidationError("Give both check_in and check_out, or neither.", missing)
        if check_in is not None:
            check_stay(check_in, check_out)


class FindHotelsRequest(StaySchema):
    city = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    min_stars = fields.Integer(load_default=None, validate=validate.Range(min=1, max=5))
    max_price = fields.Decimal(
        load_default=None, validate=[validate.Range(min=0, min_inclusive=False, max=1_000_000), in_cents],
        metadata={"exclusiveMinimum": True},  # what min_inclusive=False is in the OpenAPI document
    )
    sort = fields.String(load_default="price", validate=validate.OneOf(SORT_ORDERS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class GetHotelRequest(StaySchema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class ListCitiesRequest(Schema):
    prefix = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class PolicySchema(Schema):
    """A cancellation policy as booking/kit/policies.py reads it, with its terms for a stay."""

    free_until_hours = fields.Integer(allow_none=True)
    penalty_kind = fields.String(attribute="penalty")
    penalty_percent = fields.Integer(allow_none=True)
    # the last instant cancelling is free (None: never, or always for penalty_kind "none")
    deadline = UtcDateTime(allow_none=True)
    deadline_local = fields.DateTime(allow_none=True)
    timezone = fields.String()
    # what is kept if cancelled after the deadline
    penalty = Money(attribute="penalty_minor")
    description = fields.String()


class RatePlanSchema(Schema):
    code = fields.String()
    name = fields.String()
    nightly_price = Money(attribute="base_price_minor")
    # with dates only; None if the calendar does not sell the plan on those dates
    stay_price = Money(attribute="stay_price_minor", allow_none=True)
    cancellation_policy = fields.Nested(PolicySchema, allow_none=True)


class RoomTypeSchema(Schema):
    code = fields.String()
    name = fields.String()
    max_guests = fields.Integer()
    max_adults = fields.Integer()
    max_occupancy = fields.Integer()
    room_count = fields.Integer()
    nightly_price = Money(attribute="price_minor")
    # without dates: no stay_price, no rooms_left
    stay_price = Money(attribute="stay_price_minor", allow_none=True)
    rooms_left = fields.Integer(allow_none=True)
    rate_plans = fields.List(fields.Nested(RatePlanSchema))


class HotelSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    city = fields.String()
    country = fields.String()
    stars = fields.Integer()
    amenities = fields.List(fields.String())
    from_price = Money(attribute="from_price_minor")
    # without dates: no stay_price, no nights
    stay_price = Money(attribute="stay_price_minor", allow_none=True)
    nights = fields.Integer(allow_none=True)
    currency = fields.String()
    timezone = fields.String()
    check_in_time = fields.String()
    check_out_time = fields.String()
    vat_rate = fields.Method("percent_of_vat")
    # added per adult and night
    city_tax = Money(attribute="city_tax_minor")

    def percent_of_vat(self, hotel):
        return f"{hotel['vat_basis_points'] / 100:.2f}"


class HotelPageSchema(Schema):
    items = fields.List(fields.Nested(HotelSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class HotelSchema(HotelSummarySchema):
    description = fields.String()
    room_types = fields.List(fields.Nested(RoomTypeSchema))


class QuoteRequest(Schema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)
    rooms = rooms_field(required=True)

    @validates_schema
    def validate_stay(self, data, **kwargs):
        if "check_in" in data and "check_out" in data:
            check_stay(data["check_in"], data["check_out"])


class NightSchema(Schema):
    date = fields.Date()
    price = Money(attribute="price_minor")


class QuotedRoomSchema(Schema):
    room_type = fields.String()
    room_name = fields.String()
    rate_plan = fields.String()
    rate_plan_name = fields.String()
    adults = fields.Integer()
    children = fields.List(fields.Integer())
    # how many rooms of this type the hotel has (what a hold may take at most)
    capacity = fields.Integer()
    nights = fields.List(fields.Nested(NightSchema))
    price = Money(attribute="price_minor")
    city_tax = Money(attribute="city_tax_minor")
    total = Money(attribute="total_minor")
    cancellation_policy = fields.Nested(PolicySchema)


class StayPolicySchema(PolicySchema):
    """The policy of a stay of several rooms: its earliest deadline, the penalties added."""

    class Meta:
        exclude = ("free_until_hours", "penalty_kind", "penalty_percent")


class QuoteHotelSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    timezone = fields.String()
    check_in_time = fields.String()
    check_out_time = fields.String()


class QuoteSchema(Schema):
    hotel = fields.Nested(QuoteHotelSchema)
    check_in = fields.Date()
    check_out = fields.Date()
    currency = fields.String()
    rooms = fields.List(fields.Nested(QuotedRoomSchema))
    room_total = Money(attribute="room_total_minor")
    # included in the room prices
    vat = Money(attribute="vat_minor")
    vat_rate = fields.Method("percent_of_vat")
    # added to the room prices
    city_tax = Money(attribute="city_tax_minor")
    total = Money(attribute="total_minor")
    cancellation_policy = fields.Nested(StayPolicySchema)

    def percent_of_vat(self, quote):
        return f"{quote['vat_basis_points'] / 100:.2f}"


class CitySchema(Schema):
    name = fields.String()
    country = fields.String()
    hotel_count = fields.Integer()

