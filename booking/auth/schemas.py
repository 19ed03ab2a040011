from marshmallow import fields, validate

from booking.kit.schemas import Schema


class TokenRequest(Schema):
    grant_type = fields.String(required=True, validate=validate.Length(max=50))
    client_id = fields.String(load_default=None, validate=validate.Length(max=100))
    client_secret = fields.String(load_default=None, validate=validate.Length(max=500))
    refresh_token = fields.String(load_default=None, validate=validate.Length(max=200))
    scope = fields.String(load_default=None, validate=validate.Length(max=500))


class LoginRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    # sealed by the gateway (booking.kit.sealed): longer than typed; users checks the rest
    password = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    client_address = fields.String(load_default=None, validate=validate.Length(max=100))


class RevokeRequest(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    token_type_hint = fields.String(load_default=None, validate=validate.OneOf(["access_token", "refresh_token"]))


class TokenResponse(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String()
    refresh_token = fields.String()
    # first-party login only: who logged in
    user = fields.Dict()
