"""The schema base every service validates its arguments with, and the limits of a
stay that every service applies alike."""
from datetime import UTC, datetime
from decimal import Decimal

import marshmallow
from marshmallow import RAISE, ValidationError, fields

from booking.kit.errors import ValidationFailed

# a stay is at most this many nights
MAX_NIGHTS = 30
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


def load(schema, data):
    """Validate `data` with `schema`; raise `ValidationFailed` listing each field's problem.
    A None value counts as absent (so a missing required field says so)."""
    try:
        return schema.load({key: value for key, value in data.items() if value is not None})
    except ValidationError as error:
        raise ValidationFailed("Some arguments are not valid", details=error.messages) from None


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


def to_minor(amount):
    """12340 from "123.40" (an amount as `money` shows it)."""
    return int((Decimal(amount) * 100).to_integral_value())


def money(minor_units, currency):
    """`{"amount": "123.40", "currency": "EUR"}` from 12340 minor units."""
    amount = (Decimal(minor_units) / 100).quantize(Decimal("0.01"))
    return {"amount": str(amount), "currency": currency}


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC, with its offset, even when the database kept no zone (SQLite)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)
