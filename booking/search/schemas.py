"""What search takes and what it returns."""
from marshmallow import ValidationError, fields, validate, validates_schema

from booking.kit.schemas import MAX_ID, Money, Schema, check_stay

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


class RoomTypeSchema(Schema):
    code = fields.String()
    name = fields.String()
    max_guests = fields.Integer()
    room_count = fields.Integer()
    nightly_price = Money(attribute="price_minor")
    # without dates: no stay_price, no rooms_left
    stay_price = Money(attribute="stay_price_minor", allow_none=True)
    rooms_left = fields.Integer(allow_none=True)


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


class HotelPageSchema(Schema):
    items = fields.List(fields.Nested(HotelSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


class HotelSchema(HotelSummarySchema):
    description = fields.String()
    room_types = fields.List(fields.Nested(RoomTypeSchema))


class CitySchema(Schema):
    name = fields.String()
    country = fields.String()
    hotel_count = fields.Integer()

