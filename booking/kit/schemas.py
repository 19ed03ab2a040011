"""The schema base every service validates its arguments with, and the limits of a
stay that every service applies alike."""
from datetime import UTC, datetime
from decimal import Decimal

import marshmallow
from marshmallow import RAISE, ValidationError, fields, validate

from booking.kit.errors import ValidationFailed

# a stay is at most this many nights
MAX_NIGHTS = 30
# rooms in one booking, and the age until which a guest is a child
MAX_ROOMS = 5
MAX_CHILD_AGE = 17
# the largest id an INTEGER column holds (a larger one is no hotel, not a database error)
MAX_ID = 2**31 - 1


def today():
    return datetime.now(UTC).date()


def check_stay(check_in, check_out):
    """Raise `ValidationError` on the field at fault unless the stay starts today or
    later, ends after it starts and lasts at most MAX_NIGHTS."""
    if check_in < today():
        raise ValidationError("Check-in cannot be in the past.", "check_in")
    if check_out <= check_in:
        raise ValidationError("Check-out must be after check-in.", "check_out")
    if (check_out - check_in).days > MAX_NIGHTS:
        raise ValidationError(f"A stay is at most {MAX_NIGHTS} nights.", "check_out")


class Schema(marshmallow.Schema):
    """Strict by default: an unknown field is an error, not silently dropped."""

    class Meta:
        unknown = RAISE


class UserIdRequest(Schema):
    """An account, by id: what its services keep about one guest (users' `get`, the
    parts of an export, the stays still to come)."""
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RoomRequest(Schema):
    """One room of a stay as a quote or a booking asks for it."""

    room_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    rate_plan = fields.String(load_default="flexible", validate=validate.Length(min=1, max=40))
    adults = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=10))
    children = fields.List(fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_CHILD_AGE)),
                           load_default=list, validate=validate.Length(max=10),
                           metadata={"description": "the children's ages, 0 to 17"})


def rooms_field(**options):
    return fields.List(fields.Nested(RoomRequest), validate=validate.Length(min=1, max=MAX_ROOMS), **options)


def load(schema, data):
    """Validate `data` with `schema`; raise `ValidationFailed` listing each field's problem.
    A None value counts as absent (so a missing required field says so)."""
    try:
        return schema.load({key: value for key, value in data.items() if value is not None})
    except ValidationError as error:
        raise ValidationFailed("Some arguments are not valid", details=error.messages) from None


class WholeNumber(fields.Integer):
    """An integer, or its digits as text (as an HTML form sends it); never a number
    with a fraction, which marshmallow's lenient `Integer` would cut (2.5 is not
    room 2), nor a boolean."""

    def _validated(self, value):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Money(fields.Field):
    """An amount held in minor units (cents), shown as `{"amount": "120.00", "currency": "EUR"}`.

    The attribute it reads is `<name>_minor`; the currency comes from the object's
    `currency` attribute.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return money(value, get_currency(obj))


def get_currency(obj):
    return obj["currency"] if isinstance(obj, dict) else obj.currency


# ISO 4217 currencies whose minor unit is not a hundredth: none (JPY) or a thousandth (BHD)
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3,
                "TND": 3, "LYD": 3, "IQD": 3}


def minor_digits(currency):
    return MINOR_DIGITS.get(currency, 2)


def to_minor(amount, currency="EUR"):
    """12340 from "123.40" EUR, 12340 from "12340" JPY (an amount as `money` shows it)."""
    return int((Decimal(amount).scaleb(minor_digits(currency))).to_integral_value())


def money(minor_units, currency):
    """`{"amount": "123.40", "currency": "EUR"}` from 12340 minor units; JPY has no
    minor unit (12340 is "12340"), BHD has three (12340 is "12.340")."""
    digits = minor_digits(currency)
    amount = Decimal(minor_units).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))
    return {"amount": str(amount), "currency": currency}


def included_vat(total_minor, basis_points):
    """The VAT part of a price that includes it at `basis_points` (1000 = 10%), rounded half up."""
    net = (total_minor * 10_000 * 2 + (10_000 + basis_points)) // (2 * (10_000 + basis_points))
    return total_minor - net


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC, with its offset, even when the database kept no zone (SQLite)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)
