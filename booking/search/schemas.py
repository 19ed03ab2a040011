"""What search takes and what it returns."""
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, fields, validate, validates_schema

from booking.kit.schemas import MAX_ID, Money, Schema, UtcDateTime, check_stay, rooms_field

MAX_PER_PAGE = 100
SORT_ORDERS = ("price", "stars", "name")


def vat_percent():
    """The VAT included in prices, in percent ("10.00"), from `vat_basis_points`."""
    return fields.Function(lambda obj: f"{obj['vat_basis_points'] / 100:.2f}")


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
    vat_rate = vat_percent()
    # added per adult and night
    city_tax = Money(attribute="city_tax_minor")


class HotelPageSchema(Schema):
    items = fields.List(fields.Nested(HotelSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


# what a hotel's summary shows of a stay; the rest changes only when its hotel does
SUMMARY_PRICES = ("from_price", "stay_price", "nights")
SUMMARY_FIXED_KEYS = ("id", "name", "address", "city", "country", "stars", "amenities", "currency", "timezone",
                      "check_in_time", "check_out_time", "vat_basis_points", "city_tax_minor")
PAGE_FIELDS = HotelPageSchema(exclude=("items",))
SUMMARY_PRICE_FIELDS = HotelSummarySchema(only=SUMMARY_PRICES)
SUMMARY_FIXED_FIELDS = HotelSummarySchema(exclude=SUMMARY_PRICES)


def dump_hotel_page(page):
    """`HotelPageSchema().dump(page)`, at a sixth of its cost: a search shows twenty
    summaries, hundreds of times a second, of the same few thousand hotels, so each
    hotel's unchanging part is dumped once, remembered by its values (a hotel that
    changes is dumped afresh)."""
    return {**PAGE_FIELDS.dump(page), "items": [
        {**_fixed_summary(tuple(tuple(item[key]) if key == "amenities" else item[key] for key in SUMMARY_FIXED_KEYS)),
         **SUMMARY_PRICE_FIELDS.dump(item)} for item in page["items"]]}


@functools.lru_cache(maxsize=2**17)
def _fixed_summary(values):
    return SUMMARY_FIXED_FIELDS.dump(dict(zip(SUMMARY_FIXED_KEYS, values, strict=True)))


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
    vat_rate = vat_percent()
    # added to the room prices
    city_tax = Money(attribute="city_tax_minor")
    total = Money(attribute="total_minor")
    cancellation_policy = fields.Nested(StayPolicySchema)


class CitySchema(Schema):
    name = fields.String()
    country = fields.String()
    hotel_count = fields.Integer()



# -- the partner side: a hotel's manager, the operator -----------------------------------

TIME = r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z"
CODE = r"\A[a-z0-9][a-z0-9_-]{0,39}\Z"
MAX_CALENDAR_DAYS = 500


def known_zone(name):
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("An IANA time zone such as Europe/Paris.") from None


def price_field(**options):
    """A price as typed, in the hotel's currency: 0 to a million, its digits checked
    against the currency where the hotel is known."""
    return fields.Decimal(validate=validate.Range(min=0, max=1_000_000), as_string=True, **options)


class HotelIdRequest(Schema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class ProfileUpdate(HotelIdRequest):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))
    address = fields.String(validate=validate.Length(min=1, max=300))
    amenities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), validate=validate.Length(max=40))
    check_in_time = fields.String(validate=validate.Regexp(TIME, error="A time such as 15:00."),
                                  metadata={"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"})
    check_out_time = fields.String(validate=validate.Regexp(TIME, error="A time such as 11:00."),
                                   metadata={"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"})
    policies_text = fields.String(validate=validate.Length(max=5000))


class RoomTypeFields(HotelIdRequest):
    name = fields.String(validate=validate.Length(min=1, max=100))
    max_adults = fields.Integer(strict=True, validate=validate.Range(min=1, max=10))
    max_occupancy = fields.Integer(strict=True, validate=validate.Range(min=1, max=12))
    rooms = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000))
    price = price_field()

    @validates_schema
    def validate_occupancy(self, data, **kwargs):
        if data.get("max_occupancy") is not None and data.get("max_adults") is not None \
                and data["max_occupancy"] < data["max_adults"]:
            raise ValidationError("At least as many people as adults.", "max_occupancy")


class NewRoomType(RoomTypeFields):
    code = fields.String(required=True, validate=validate.Regexp(CODE, error="Lower-case letters, digits, - and _."),
                         metadata={"pattern": "^[a-z0-9][a-z0-9_-]{0,39}$"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    max_adults = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10))
    rooms = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10_000))
    price = price_field(required=True)


class RoomTypeUpdate(RoomTypeFields):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class NightRange(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)

    @validates_schema
    def validate_range(self, data, **kwargs):
        if "start" in data and "end" in data:
            if data["end"] < data["start"]:
                raise ValidationError("The last night comes after the first.", "end")
            if (data["end"] - data["start"]).days >= MAX_CALENDAR_DAYS:
                raise ValidationError(f"At most {MAX_CALENDAR_DAYS} nights at once.", "end")


class CalendarRequest(HotelIdRequest, NightRange):
    pass


class CalendarUpdate(HotelIdRequest, NightRange):
    room_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    # "*": every plan of the room type
    rate_plan = fields.String(required=True, validate=validate.Length(min=1, max=40))
    price = price_field()
    closed = fields.Boolean()
    min_stay = fields.Integer(strict=True, validate=validate.Range(min=1, max=30))
    closed_to_arrival = fields.Boolean()

    @validates_schema
    def validate_something(self, data, **kwargs):
        if not any(key in data for key in ("price", "closed", "min_stay", "closed_to_arrival")):
            raise ValidationError("Give a price, closed, min_stay or closed_to_arrival.", "price")


class NewHotel(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    country = fields.String(required=True, validate=validate.Length(min=1, max=100))
    stars = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    amenities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                            validate=validate.Length(max=40))
    timezone = fields.String(load_default="UTC", validate=[validate.Length(min=1, max=64), known_zone])
    currency = fields.String(load_default="EUR", validate=validate.Regexp(r"\A[A-Z]{3}\Z", error="3 capital letters."),
                             metadata={"pattern": "^[A-Z]{3}$"})
    vat_rate = fields.Decimal(load_default=None, as_string=True, validate=validate.Range(min=0, max=50))
    check_in_time = ProfileUpdate._declared_fields["check_in_time"]
    check_out_time = ProfileUpdate._declared_fields["check_out_time"]


class GrantRequest(HotelIdRequest):
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class PartnerPlanSchema(Schema):
    code = fields.String()
    name = fields.String()
    base_price = Money(attribute="price_minor")
    policy = fields.String()


class PartnerRoomTypeSchema(Schema):
    code = fields.String()
    name = fields.String()
    max_adults = fields.Integer(attribute="max_guests")
    max_occupancy = fields.Integer(attribute="occupancy")
    rooms = fields.Integer(attribute="room_count")
    base_price = Money(attribute="price_minor")
    rate_plans = fields.List(fields.Nested(PartnerPlanSchema))


class PartnerHotelSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    city = fields.String()
    country = fields.String()
    stars = fields.Integer()
    currency = fields.String()
    timezone = fields.String()


class PartnerHotelSchema(PartnerHotelSummarySchema):
    description = fields.String()
    address = fields.String()
    amenities = fields.List(fields.String())
    check_in_time = fields.String()
    check_out_time = fields.String()
    policies_text = fields.String(allow_none=True)
    vat_rate = vat_percent()
    city_tax = Money(attribute="city_tax_minor")
    room_types = fields.List(fields.Nested(PartnerRoomTypeSchema))


class CalendarNightSchema(Schema):
    date = fields.Date()
    sold = fields.Integer()
    left = fields.Integer()


class PlanNightSchema(Schema):
    date = fields.Date()
    price = Money(attribute="price_minor")
    closed = fields.Boolean()
    closed_to_arrival = fields.Boolean()
    min_stay = fields.Integer()


class CalendarPlanSchema(Schema):
    code = fields.String()
    name = fields.String()
    nights = fields.List(fields.Nested(PlanNightSchema))


class CalendarRoomTypeSchema(Schema):
    code = fields.String()
    name = fields.String()
    rooms = fields.Integer()
    nights = fields.List(fields.Nested(CalendarNightSchema))
    plans = fields.List(fields.Nested(CalendarPlanSchema))


class CalendarSchema(Schema):
    hotel_id = fields.Integer()
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    currency = fields.String()
    dates = fields.List(fields.Date())
    room_types = fields.List(fields.Nested(CalendarRoomTypeSchema))


# the schemas of what guests ask hundreds of times a second, made once rather than per
# call: making one costs about 0.15 ms, as much as a hotel page's pricing
FIND_HOTELS_REQUEST = FindHotelsRequest()
GET_HOTEL_REQUEST = GetHotelRequest()
HOTEL_FIELDS = HotelSchema()
