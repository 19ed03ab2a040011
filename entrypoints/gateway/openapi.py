"""The public API as an OpenAPI 3 document, built with apispec from the same
marshmallow schemas the services validate with. A test checks that every JSON
route of the gateway appears here, and that the document is valid."""
import json
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields, validate

from booking.auth.schemas import TokenResponse
from booking.kit.schemas import Schema
from booking.payments.schemas import CardSchema, PaymentSchema
from booking.reservations.schemas import (
    CancellationSchema,
    CancelRequest,
    ChangeRequest,
    HoldRequest,
    PartnerReservationSchema,
    ReservationIdRequest,
    ReservationSchema,
)
from booking.search.schemas import (
    CalendarSchema,
    CalendarUpdate,
    CitySchema,
    FindHotelsRequest,
    GetHotelRequest,
    HotelPageSchema,
    HotelSchema,
    NewHotel,
    NewRoomType,
    PartnerHotelSchema,
    PartnerHotelSummarySchema,
    PartnerRoomTypeSchema,
    ProfileUpdate,
    QuoteRequest,
    QuoteSchema,
    RoomTypeFields,
    StaySchema,
)
from booking.users.schemas import (
    ChangeEmailRequest,
    ChangePasswordRequest,
    CredentialsRequest,
    DataExportSchema,
    DeleteAccountRequest,
    ExportIdRequest,
    LinkTokenRequest,
    RegisterRequest,
    ResetPasswordRequest,
    UserSchema,
)


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "a stable code, e.g. NO_ROOM_LEFT"})
    message = fields.String(required=True)
    details = fields.Dict(required=True, metadata={"description": "per field or per fact"})


class OAuthErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "RFC 6749 §5.2 code, e.g. invalid_grant"})
    error_description = fields.String()


class PasswordResetBody(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class MessageSchema(Schema):
    message = fields.String(required=True)


class VerificationSentSchema(Schema):
    sent = fields.Boolean(required=True, metadata={"description": "false: the address is verified already"})


class DeletedSchema(Schema):
    deleted = fields.Boolean(required=True)
    message = fields.String(required=True)


class ExportListSchema(Schema):
    exports = fields.List(fields.Nested(DataExportSchema), metadata={"description": "newest first"})


class PendingEmailSchema(UserSchema):
    pending_email = fields.String(metadata={"description": "where the link went; the address changes once it "
                                                           "is opened"})


class CityListSchema(Schema):
    items = fields.List(fields.Nested(CitySchema))


class ReservationListSchema(Schema):
    items = fields.List(fields.Nested(ReservationSchema))


class HoldBody(HoldRequest):
    class Meta:
        exclude = ("idempotency_key",)  # sent as the Idempotency-Key header


class PayBody(Schema):
    card = fields.Nested(CardSchema, required=True)


class CancelledSchema(ReservationSchema):
    cancellation = fields.Nested(CancellationSchema, metadata={"description": "what this cancellation refunded "
                                                                              "and kept"})


class ChangeSchema(Schema):
    id = fields.String()
    difference = fields.Dict(metadata={"description": "the new total minus the old: charged if positive, "
                                                      "refunded if negative"})


class ChangedSchema(ReservationSchema):
    change = fields.Nested(ChangeSchema)


class CancelBody(CancelRequest):
    class Meta:
        exclude = ("reservation_id",)  # in the path


class ChangeBody(ChangeRequest):
    card = fields.Nested(CardSchema, metadata={"description": "needed when the new stay costs more"})

    class Meta:
        exclude = ("reservation_id", "idempotency_key")  # in the path, and the Idempotency-Key header


class TokenForm(Schema):
    grant_type = fields.String(required=True, metadata={"enum": ["client_credentials", "refresh_token"]})
    client_id = fields.String()
    client_secret = fields.String()
    refresh_token = fields.String()
    scope = fields.String()


class RevokeForm(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1))
    # empty is none, as in every form the gateway reads
    token_type_hint = fields.String(validate=validate.OneOf(["access_token", "refresh_token", ""]))


class HealthSchema(Schema):
    status = fields.String()


class ReadySchema(Schema):
    status = fields.String(metadata={"enum": ["ready", "unavailable"]})
    services = fields.Dict(keys=fields.String(), values=fields.String())


class JwksSchema(Schema):
    keys = fields.List(fields.Dict())


# -- the partner back office and the operator's routes (entrypoints/gateway/routes/partner.py) --

class PartnerHotelListSchema(Schema):
    items = fields.List(fields.Nested(PartnerHotelSummarySchema))


class PartnerRoomTypeListSchema(Schema):
    items = fields.List(fields.Nested(PartnerRoomTypeSchema))


class HotelProfileBody(ProfileUpdate):
    class Meta:
        exclude = ("hotel_id",)  # in the path


# a price is sent as a decimal string in the hotel's currency, as money comes out
PRICE = {"type": "string", "pattern": r"^\d{1,7}(\.\d{1,3})?$", "example": "120.00"}


class RoomTypeBody(RoomTypeFields):
    price = fields.String(metadata={**PRICE, "description": "the base price of a night"})

    class Meta:
        exclude = ("hotel_id",)


class NewRoomTypeBody(NewRoomType):
    price = fields.String(required=True, metadata={**PRICE, "description": "the price of its `flexible` plan"})

    class Meta:
        exclude = ("hotel_id",)


class CalendarBody(CalendarUpdate):
    price = fields.String(metadata=PRICE)
    # the API names the range from..to, as the calendar it answers does
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to", metadata={"description": "the last night, included"})

    class Meta:
        exclude = ("hotel_id",)


class NewHotelBody(NewHotel):
    vat_rate = fields.String(metadata={"type": "string", "pattern": r"^\d{1,2}(\.\d{1,2})?$", "example": "10.00",
                                       "description": "percent, included in prices"})


class HotelReservationListSchema(Schema):
    items = fields.List(fields.Nested(PartnerReservationSchema))


class ReportFiguresSchema(Schema):
    rooms_available = fields.Integer()
    rooms_sold = fields.Integer()
    occupancy = fields.Float(metadata={"description": "0 to 1"})
    adr_minor = fields.Integer(metadata={"description": "average daily rate, in minor units"})
    revpar_minor = fields.Integer()
    revenue_minor = fields.Integer()
    refunds_minor = fields.Integer()
    penalties_minor = fields.Integer()
    cancellations = fields.Integer()
    no_shows = fields.Integer()


class ReportRoomTypeSchema(ReportFiguresSchema):
    code = fields.String()
    name = fields.String()


class ReportDaySchema(Schema):
    date = fields.Date()
    rooms_available = fields.Integer()
    rooms_sold = fields.Integer()
    occupancy = fields.Float()
    revenue_minor = fields.Integer()


class MonthlyReportSchema(Schema):
    hotel_id = fields.Integer()
    month = fields.String(metadata={"example": "2027-01"})
    currency = fields.String()
    totals = fields.Nested(ReportFiguresSchema)
    room_types = fields.List(fields.Nested(ReportRoomTypeSchema))
    days = fields.List(fields.Nested(ReportDaySchema))


class ManagerBody(Schema):
    email = fields.Email(required=True, metadata={"description": "an account's: it signs up first"})


class ManagerGrantSchema(Schema):
    hotel_id = fields.Integer()
    user_id = fields.Integer()
    email = fields.String()
    full_name = fields.String()


MONTH = {"in": "query", "name": "month", "required": True,
         "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2027-01"}}
RESERVATION_FILTERS = [
    {"in": "query", "name": "arrival", "schema": {"type": "string", "format": "date"}},
    {"in": "query", "name": "departure", "schema": {"type": "string", "format": "date"}},
    {"in": "query", "name": "status", "schema": {"type": "string", "enum": [
        "held", "confirmed", "checked_in", "checked_out", "no_show", "cancelled", "expired"]}},
    {"in": "query", "name": "q", "schema": {"type": "string"},
     "description": "a reference or part of the guest's name"},
]
CALENDAR_RANGE = [{"in": "query", "name": "from", "required": True, "schema": {"type": "string", "format": "date"}},
                  {"in": "query", "name": "to", "required": True, "schema": {"type": "string", "format": "date"},
                   "description": "the last night, included (at most 500 days)"}]
PARTNER = "/api/v1/partner/hotels/{hotel_id}"
# what a manager may be refused: no token, no scope `partner`, not their hotel (404)
PARTNER_ERRORS = [401, 403, 404]


# a blank key is no key; the services keep at most 100 characters of one
IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": True,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"},
                   "description": "the same key returns the first answer again (422 with another body)"}
# path parameters, with the rules the services check them by
PATH_PARAMETERS = {"hotel_id": GetHotelRequest().fields["hotel_id"],
                   "reservation_id": ReservationIdRequest().fields["reservation_id"],
                   "export_id": ExportIdRequest().fields["export_id"],
                   "room_type": fields.String(metadata={"description": "the room type's code"})}

# method, path, tag, summary, parameters, body (schema, media type), answer (status, schema), errors, needs a token
ROUTES = [
    ("get", "/health", "health", "The gateway process is alive", [], None, (200, HealthSchema), [], False),
    ("get", "/ready", "health", "Every service answers (or one: ?service=)", [
        {"in": "query", "name": "service", "schema": {"type": "string"}}], None, (200, ReadySchema), [400, 404, 503],
     False),
    ("get", "/api/v1/openapi.json", "health", "This document", [], None, (200, None), [], False),
    ("get", "/api/v1/cities", "search", "Cities with their number of hotels", [
        {"in": "query", "name": "prefix", "schema": {"type": "string", "minLength": 1, "maxLength": 100}}],
     None, (200, CityListSchema), [400], False),
    ("get", "/api/v1/hotels", "search", "Hotels of a city; with dates, only those free every night",
     [{"in": "query", "schema": FindHotelsRequest}], None, (200, HotelPageSchema), [400], False),
    ("get", "/api/v1/hotels/{hotel_id}", "search", "One hotel, its room types, prices and rooms left",
     [{"in": "query", "schema": StaySchema}], None, (200, HotelSchema), [400, 404], False),
    ("post", "/api/v1/users", "accounts", "Open an account", [], (RegisterRequest, "application/json"),
     (201, UserSchema), [400, 409, 413], False),
    ("post", "/api/v1/auth/login", "accounts", "First-party login: access and refresh token", [],
     (CredentialsRequest, "application/json"), (200, TokenResponse), [400, 401, 429], False),
    ("get", "/api/v1/me", "accounts", "The caller's account", [], None, (200, UserSchema), [401, 403], True),
    ("post", "/api/v1/password-reset", "accounts",
     "E-mail a link to choose a new password (the same answer whether or not an account has the address)", [],
     (PasswordResetBody, "application/json"), (202, MessageSchema), [400, 413, 429], False),
    ("post", "/api/v1/password-reset/confirm", "accounts",
     "Set a new password with a reset link's token; every session is signed out", [],
     (ResetPasswordRequest, "application/json"), (200, MessageSchema), [400, 413], False),
    ("post", "/api/v1/email-verification", "accounts", "Verify an address with a verification link's token", [],
     (LinkTokenRequest, "application/json"), (200, UserSchema), [400, 409, 413], False),
    ("post", "/api/v1/me/verification", "accounts", "Send the link that verifies the account's address again",
     [], None, (202, VerificationSentSchema), [401, 403, 429], True),
    ("post", "/api/v1/me/password", "accounts",
     "Change the password; every other session is signed out, the answer is a new login", [],
     (ChangePasswordRequest, "application/json"), (200, TokenResponse), [400, 401, 403, 413, 429], True),
    ("post", "/api/v1/me/email", "accounts",
     "Change the e-mail address: a link goes to the new one, which replaces the old once opened", [],
     (ChangeEmailRequest, "application/json"), (202, PendingEmailSchema), [400, 401, 403, 409, 413, 429], True),
    ("delete", "/api/v1/me", "accounts",
     "Delete the account (refused while a confirmed stay is to come); its personal data is erased everywhere",
     [], (DeleteAccountRequest, "application/json"), (200, DeletedSchema), [400, 401, 403, 409, 413, 429], True),
    ("post", "/api/v1/me/export", "accounts",
     "Start a copy of the caller's data (a ZIP, e-mailed when ready, kept 24 hours)", [], None,
     (202, DataExportSchema), [401, 403, 429], True),
    ("get", "/api/v1/me/exports", "accounts", "The caller's data exports", [], None, (200, ExportListSchema),
     [401, 403], True),
    ("get", "/api/v1/me/exports/{export_id}", "accounts",
     "An export: the ZIP once ready (202 and its state until then)", [], None,
     [(200, "application/zip"), (202, DataExportSchema)], [400, 401, 403, 404, 410], True),
    ("post", "/oauth/token", "oauth", "OAuth2 token endpoint (client_credentials, refresh_token)", [],
     (TokenForm, "application/x-www-form-urlencoded"), (200, TokenResponse), [], False),
    ("post", "/oauth/revoke", "oauth", "Revoke an access or refresh token (RFC 7009)", [],
     (RevokeForm, "application/x-www-form-urlencoded"), (200, None), [], False),
    ("get", "/.well-known/jwks.json", "oauth", "The public keys that sign access tokens", [], None,
     (200, JwksSchema), [], False),
    ("post", "/api/v1/quotes", "search", "The price of a stay of one or more rooms, with its taxes and policy", [],
     (QuoteRequest, "application/json"), (200, QuoteSchema), [400, 404, 422], False),
    ("post", "/api/v1/reservations", "bookings", "Hold rooms for every night of a stay (all or none)",
     [IDEMPOTENCY_KEY], (HoldBody, "application/json"), (201, ReservationSchema), [400, 401, 404, 409, 422], True),
    ("get", "/api/v1/reservations", "bookings", "The caller's reservations", [], None,
     (200, ReservationListSchema), [401], True),
    ("get", "/api/v1/reservations/{reservation_id}", "bookings", "One of the caller's reservations", [], None,
     (200, ReservationSchema), [400, 401, 404], True),
    ("post", "/api/v1/reservations/{reservation_id}/payment", "bookings", "Pay a held reservation by card",
     [IDEMPOTENCY_KEY], (PayBody, "application/json"), (200, PaymentSchema), [400, 401, 402, 403, 404, 409, 422],
     True),
    ("get", "/api/v1/reservations/{reservation_id}/cancellation", "bookings",
     "What cancelling now would refund and keep (?room= for one room)",
     [{"in": "query", "name": "room", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}], None,
     (200, CancellationSchema), [400, 401, 404, 409], True),
    ("post", "/api/v1/reservations/{reservation_id}/cancel", "bookings",
     "Cancel the booking, or one room ({\"room\": 2}): refunded as its policy says", [],
     (CancelBody, "application/json", "optional"),
     (200, CancelledSchema), [400, 401, 404, 409], True),
    ("post", "/api/v1/reservations/{reservation_id}/change", "bookings",
     "Change the dates and/or rooms; the difference is charged or refunded", [IDEMPOTENCY_KEY],
     (ChangeBody, "application/json"), (200, ChangedSchema), [400, 401, 402, 404, 409, 422], True),
    ("get", "/api/v1/reservations/{reservation_id}/confirmation.pdf", "bookings", "The confirmation PDF", [],
     None, (200, "application/pdf"), [400, 401, 404, 409], True),
    ("get", "/api/v1/partner/hotels", "partner", "The hotels the caller manages (an operator: all)", [], None,
     (200, PartnerHotelListSchema), [400, 401, 403], True),
    ("get", PARTNER, "partner", "A managed hotel's profile, its room types and their plans", [], None,
     (200, PartnerHotelSchema), [400, *PARTNER_ERRORS], True),
    ("patch", PARTNER, "partner", "Change the hotel's profile (only the fields sent)", [],
     (HotelProfileBody, "application/json"), (200, PartnerHotelSchema), [400, *PARTNER_ERRORS, 413], True),
    ("get", f"{PARTNER}/room-types", "partner", "The hotel's room types", [], None,
     (200, PartnerRoomTypeListSchema), [400, *PARTNER_ERRORS], True),
    ("post", f"{PARTNER}/room-types", "partner", "Add a room type, on a flexible plan at its price", [],
     (NewRoomTypeBody, "application/json"), (201, PartnerHotelSchema), [400, *PARTNER_ERRORS, 409, 413], True),
    ("patch", f"{PARTNER}/room-types/{{room_type}}", "partner",
     "Change a room type; fewer rooms than are sold on some night is 409 ROOMS_SOLD (details.nights)", [],
     (RoomTypeBody, "application/json"), (200, PartnerHotelSchema), [400, *PARTNER_ERRORS, 409, 413], True),
    ("get", f"{PARTNER}/calendar", "partner", "Each night's rooms sold and left, and each plan's price and terms",
     CALENDAR_RANGE, None, (200, CalendarSchema), [400, *PARTNER_ERRORS], True),
    ("put", f"{PARTNER}/calendar", "partner",
     "Set the price, closed, minimum stay or closed to arrival of a room type's plan (or all: \"*\") "
     "on every night from..to", [], (CalendarBody, "application/json"), (200, CalendarSchema),
     [400, *PARTNER_ERRORS, 413], True),
    ("get", f"{PARTNER}/reservations", "partner", "The hotel's reservations, newest arrival first",
     RESERVATION_FILTERS, None, (200, HotelReservationListSchema), [400, *PARTNER_ERRORS], True),
    ("post", "/api/v1/partner/reservations/{reservation_id}/check-in", "partner",
     "The guest has arrived (from the check-in day, hotel time)", [], None, (200, PartnerReservationSchema),
     [400, *PARTNER_ERRORS, 409], True),
    ("post", "/api/v1/partner/reservations/{reservation_id}/check-out", "partner", "The guest has left", [], None,
     (200, PartnerReservationSchema), [400, *PARTNER_ERRORS, 409], True),
    ("post", "/api/v1/partner/reservations/{reservation_id}/no-show", "partner",
     "The guest did not come: the policy's penalty is kept, the rest refunded", [], None,
     (200, PartnerReservationSchema), [400, *PARTNER_ERRORS, 409], True),
    ("get", f"{PARTNER}/report", "partner", "The month's occupancy, ADR, RevPAR, revenue, refunds and penalties",
     [MONTH], None, (200, MonthlyReportSchema), [400, *PARTNER_ERRORS], True),
    ("get", f"{PARTNER}/report.csv", "partner", "The monthly report as CSV", [MONTH], None, (200, "text/csv"),
     [400, *PARTNER_ERRORS], True),
    ("get", f"{PARTNER}/report.pdf", "partner", "The monthly report as PDF", [MONTH], None,
     (200, "application/pdf"), [400, *PARTNER_ERRORS], True),
    ("post", "/api/v1/admin/hotels", "admin", "Add a hotel to the catalogue", [],
     (NewHotelBody, "application/json"), (201, PartnerHotelSchema), [400, 401, 403, 413], True),
    ("post", "/api/v1/admin/hotels/{hotel_id}/managers", "admin",
     "Let the account of `email` manage the hotel", [], (ManagerBody, "application/json"),
     (201, ManagerGrantSchema), [400, 401, 403, 404, 413], True),
]
OAUTH_PATHS = ("/oauth/token", "/oauth/revoke")


def openapi_path(werkzeug_rule):
    """"/api/v1/hotels/{hotel_id}" from "/api/v1/hotels/<int:hotel_id>"."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", werkzeug_rule)


def build(server_url):
    marshmallow = MarshmallowPlugin()
    spec = APISpec(title="Booking API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[marshmallow], servers=[{"url": server_url}],
                   info={"description": "Hotel search, accounts and bookings. Errors have one body: "
                                        "{error, message, details}; OAuth endpoints answer as RFC 6749 says."})
    spec.components.schema("Error", schema=ErrorSchema)
    spec.components.schema("OAuthError", schema=OAuthErrorSchema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for method, path, tag, summary, parameters, body, answer, errors, secured in ROUTES:
        operation = {"tags": [tag], "summary": summary, "parameters": list(parameters),
                     "responses": responses(path, answer, errors)}
        operation["parameters"] += [
            {"in": "path", "name": name, "required": True,
             "schema": marshmallow.converter.field2property(PATH_PARAMETERS[name])}
            for name in re.findall(r"{(\w+)}", path)]
        if body is not None:
            schema, media_type, *optional = body
            operation["requestBody"] = {"required": not optional, "content": {media_type: {"schema": schema}}}
        if secured:
            operation["security"] = [{"bearer": []}]
        spec.path(path=path, operations={method: operation})
    # plain JSON: limits and defaults of Decimal fields become numbers
    document = json.loads(json.dumps(spec.to_dict(), default=float))
    for operation in (operation for methods in document["paths"].values() for operation in methods.values()):
        for parameter in operation["parameters"]:
            if parameter["in"] == "query":  # the gateway reads empty as absent, as HTML forms send them
                parameter["allowEmptyValue"] = True
    # a cancellation's room is also taken as its digits, as the cancel form sends it (`WholeNumber`)
    room = document["components"]["schemas"]["CancelBody"]["properties"]["room"]
    room["anyOf"] = [{key: room.pop(key) for key in ("type", "minimum", "maximum")},
                     {"type": "string", "pattern": "^(100|[1-9][0-9]?)$"}]
    return document


def responses(path, answers, errors):
    """`answers`: (status, schema), or a list of them (a file when ready, its state until then)."""
    documented = {}
    for status, schema in answers if isinstance(answers, list) else [answers]:
        if schema is None:
            documented[str(status)] = {"description": "done"}
        elif isinstance(schema, str):
            documented[str(status)] = {"description": "the file", "content": {
                schema: {"schema": {"type": "string", "format": "binary"}}}}
        else:
            documented[str(status)] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    error_schema = "OAuthError" if path in OAUTH_PATHS else "Error"
    codes = sorted(set(errors) | ({400, 401} if path in OAUTH_PATHS else set()) | {500, 503})
    return {**documented, **{str(code): {"description": "see the error code",
                                         "content": {"application/json": {"schema": error_schema}}}
                             for code in codes}}
