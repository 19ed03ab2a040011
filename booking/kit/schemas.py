"""The schema base every service validates its arguments with."""
from datetime import UTC
from decimal import Decimal

import marshmallow
from marshmallow import RAISE, ValidationError, fields

from booking.kit.errors import ValidationFailed


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
