from marshmallow import fields, post_load, pre_load, validate

from booking.kit.schemas import Schema, UtcDateTime


def normalise_email(email):
    return email.strip().lower()


class RegisterRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @pre_load
    def trim(self, data, **kwargs):
        return {key: value.strip() if key in ("email", "full_name") and isinstance(value, str) else value
                for key, value in data.items()}

    @post_load
    def normalise(self, data, **kwargs):
        return {**data, "email": normalise_email(data["email"])}


class CredentialsRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ProfileUpdate(Schema):
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UserIdRequest(Schema):
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    created_at = UtcDateTime()


class UserRegisteredEvent(Schema):
    user_id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
