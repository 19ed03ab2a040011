

from booking.kit.errors import Unauthorized, ValidationFailed
from booking.kit.schemas import load
from booking.kit.tokens import bearer_token
from booking.payments.schemas import CardSchema
from entrypoints.gateway.http import (
    NOT_TEXT,
    api,
    json_body,
    json_response,
    pdf_response,
    query_args,
    storable,
)

HOLD_FIELDS = ("hotel_id", "room_type", "check_in", "check_out", "guests", "rooms")
QUOTE_FIELDS = ("hotel_id", "check_in", "check_out", "rooms")
CHANGE_FIELDS = ("check_in", "check_out", "rooms", "card")


def idempotency_key(request):
    """The `Idempotency-Key` header, which every booking write needs: a retried
    request with the same key gets the first answer and changes nothing. Who is
    asking comes first: without a token, the answer is 401 whatever else is wrong."""
    if bearer_token(request.headers.get("Authorization")) is None:
        raise Unauthorized("This needs an access token")
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ValidationFailed("This request needs an Idempotency-Key header",
                               details={"Idempotency-Key": ["Missing header."]})
    if not storable(key):
        raise ValidationFailed("Some arguments are not valid", details={"Idempotency-Key": [NOT_TEXT]})
    return key


def card_token(bank, card):
    """Check the card here and have the bank tokenize it: from the edge on, only the
    token travels (the card number never enters a broker message or a log)."""
    try:
        valid = load(CardSchema(), card if isinstance(card, dict) else {})
    except ValidationFailed as invalid:
        raise ValidationFailed(invalid.message, details={"card": invalid.details}) from None
    return bank.card_token(valid)


class BookingRoutes:
    @api("POST", "/api/v1/quotes")
    def quote(self, request):
        body = json_body(request, QUOTE_FIELDS)
        return self.search.quote(body.get("hotel_id"), body.get("check_in"), body.get("check_out"),
                                 body.get("rooms"))

    @api("POST", "/api/v1/reservations")
    def hold(self, request):
        key = idempotency_key(request)
        reservation = self.reservations.hold(**json_body(request, HOLD_FIELDS), idempotency_key=key)
        return json_response(reservation, status=201)

    @api("GET", "/api/v1/reservations")
    def my_reservations(self, request):
        return {"items": self.reservations.list_mine()}

    @api("GET", "/api/v1/reservations/<string:reservation_id>")
    def reservation(self, request, reservation_id):
        return self.reservations.get(reservation_id)

    @api("POST", "/api/v1/reservations/<string:reservation_id>/payment")
    def pay(self, request, reservation_id):
        key = idempotency_key(request)
        body = json_body(request, ("card",))
        return self.payments.pay(reservation_id, card_token(self.bank, body.get("card")), key)

    @api("GET", "/api/v1/reservations/<string:reservation_id>/cancellation")
    def cancellation(self, request, reservation_id):
        return self.reservations.cancellation(reservation_id, **query_args(request, ("room",)))

    @api("POST", "/api/v1/reservations/<string:reservation_id>/cancel")
    def cancel(self, request, reservation_id):
        # no body cancels the whole booking, as before; {"room": 2} only that room ("" is no room)
        body = json_body(request, ("room",), keep_empty=True) if request.get_data(cache=True) else {}
        return self.reservations.cancel(reservation_id, **body)

    @api("POST", "/api/v1/reservations/<string:reservation_id>/change")
    def change(self, request, reservation_id):
        key = idempotency_key(request)
        body = json_body(request, CHANGE_FIELDS)
        if body.get("card") is not None:
            body["card"] = card_token(self.bank, body["card"])
        return self.reservations.change(reservation_id, **body, idempotency_key=key)

    @api("GET", "/api/v1/reservations/<string:reservation_id>/confirmation.pdf")
    def confirmation_pdf(self, request, reservation_id):
        document = self.reservations.confirmation_pdf(reservation_id)
        return pdf_response(document)
