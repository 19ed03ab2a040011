from datetime import timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from booking.kit.schemas import MAX_ID, MAX_NIGHTS, Money, Schema, UtcDateTime, check_stay, today

MAX_DAYS_AHEAD = 500


class HoldRequest(Schema):
    hotel_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    room_type = fields.String(required=True, validate=validate.Length(min=1, max=40))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)
    guests = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10))
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def validate_stay(self, data, **kwargs):
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if check_in is None or check_out is None:
            return
        check_stay(check_in, check_out)
        if check_in > today() + timedelta(days=MAX_DAYS_AHEAD):
            raise ValidationError(f"Bookings open {MAX_DAYS_AHEAD} days ahead.", "check_in")


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
    refunded = fields.Boolean()

    def count_nights(self, reservation):
        return (reservation.check_out - reservation.check_in).days


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
