import re
from datetime import UTC, datetime

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from booking.kit.schemas import Money, Schema, UtcDateTime


def luhn_valid(number):
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def card_brand(number):
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "card"


class CardSchema(Schema):
    """A card as a guest types it. Validated here, then handed to the bank; only
    its brand and last four digits are ever kept."""

    number = fields.String(required=True, validate=validate.Length(min=12, max=23))
    exp_month = fields.Integer(required=True, validate=validate.Range(min=1, max=12))
    exp_year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    # documented in ECMA 262 syntax, as OpenAPI wants: it has no \A or \Z
    cvc = fields.String(required=True, validate=validate.Regexp(r"\A[0-9]{3,4}\Z", error="3 or 4 digits."),
                        metadata={"pattern": "^[0-9]{3,4}$"})
    holder = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @pre_load
    def compact_number(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("number"), str):
            data = {**data, "number": data["number"].replace(" ", "").replace("-", "")}
        return data

    # every problem at once: a wrong number is said even beside a wrong month
    @validates_schema(skip_on_field_errors=False)
    def validate_card(self, data, **kwargs):
        number = data.get("number")
        if number is not None and (not re.fullmatch(r"[0-9]{12,19}", number, re.ASCII) or not luhn_valid(number)):
            raise ValidationError("Not a valid card number.", "number")
        now = datetime.now(UTC)
        if "exp_year" in data and "exp_month" in data and (data["exp_year"], data["exp_month"]) < (now.year, now.month):
            raise ValidationError("The card has expired.", "exp_month")


class CardTokenSchema(Schema):
    """A card the bank has tokenized already (as the gateway does): the card's
    number never travels further than the edge."""

    token = fields.String(required=True, validate=validate.Regexp(r"\Atok_[A-Za-z0-9_-]{6,80}\Z"))
    brand = fields.String(required=True, validate=validate.Length(min=1, max=20))
    last4 = fields.String(required=True, validate=validate.Regexp(r"\A[0-9]{4}\Z"))
    exp_month = fields.Integer(required=True, validate=validate.Range(min=1, max=12))
    exp_year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    holder = fields.String(required=True, validate=validate.Length(min=1, max=100))


class PayRequest(Schema):
    reservation_id = fields.String(required=True, validate=validate.Regexp(r"^BK[0-9A-Z]{8}$"))
    card = fields.Nested(CardSchema, required=True)
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=100))


class TokenPayRequest(PayRequest):
    card = fields.Nested(CardTokenSchema, required=True)


def card_summary(card):
    """What is kept and compared of a card, from either form: brand, last four
    digits, expiry, holder."""
    if "token" in card:
        return {key: card[key] for key in ("brand", "last4", "exp_month", "exp_year", "holder")}
    return {"brand": card_brand(card["number"]), "last4": card["number"][-4:], "exp_month": card["exp_month"],
            "exp_year": card["exp_year"], "holder": card["holder"]}


class DifferenceRequest(Schema):
    reservation_id = fields.String(required=True, validate=validate.Regexp(r"^BK[0-9A-Z]{8}$"))
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    amount_minor = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**11))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    card = fields.Nested(CardTokenSchema, required=True)
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=60))


class PaymentIdRequest(Schema):
    payment_id = fields.String(required=True, validate=validate.Regexp(r"^pay_[A-Za-z0-9_-]{8,40}$"))


class PaymentSchema(Schema):
    id = fields.String()
    reservation_id = fields.String()
    status = fields.String()
    amount = Money(attribute="amount_minor")
    refunded = Money(attribute="refunded_minor")
    card = fields.Method("card_summary")
    failure_code = fields.String(allow_none=True)
    bank_reference = fields.String(attribute="bank_charge_id", allow_none=True)
    created_at = UtcDateTime()
    # "booking", or "change-<id>" for the difference of a change
    purpose = fields.String()

    def card_summary(self, payment):
        return {"brand": payment.card_brand, "last4": payment.card_last4}


class RefundSchema(Schema):
    id = fields.String()
    payment_id = fields.String()
    reservation_id = fields.String()
    # granted (a cancellation's, a cheaper change's) | returned (paid too late, or twice)
    kind = fields.String()
    amount = Money(attribute="amount_minor")
    description = fields.String(allow_none=True)
    created_at = UtcDateTime()


class PaymentEvent(Schema):
    payment_id = fields.String(attribute="id")
    reservation_id = fields.String()
    user_id = fields.Integer()
    status = fields.String()
    amount_minor = fields.Integer()
    refunded_minor = fields.Integer()
    currency = fields.String()
    failure_code = fields.String(allow_none=True)
    purpose = fields.String()
