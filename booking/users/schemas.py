from marshmallow import ValidationError, fields, post_load, pre_load, validate

from booking.kit.schemas import Schema, UtcDateTime


def normalise_email(email):
    return email.strip().lower()


class RegisterRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @pre_load
    def trim(self, data, **kwargs):
        """Spaces around are dropped, but the limit is the documented one, of what was
        sent: 200 characters and a space too many are not a name of 200."""
        too_long = {key: [f"Longer than maximum length {self.fields[key].validate.max}."]
                    for key in ("email", "full_name")
                    if isinstance(data.get(key), str) and len(data[key]) > self.fields[key].validate.max}
        if too_long:
            raise ValidationError(too_long)
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

    @pre_load
    def trim(self, data, **kwargs):
        """A name of spaces is no name (the limit is measured on what was sent, as at registration)."""
        name = data.get("full_name")
        if isinstance(name, str) and len(name) <= self.fields["full_name"].validate.max:
            data = {**data, "full_name": name.strip()}
        return data


class UserIdRequest(Schema):
    user_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    created_at = UtcDateTime()


class UserRegisteredEvent(Schema):
    user_id = fields.Integer()
    email = fields.String()
    full_name = fields.String()


class UserIdsRequest(Schema):
    user_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)), required=True,
                           validate=validate.Length(max=1000))


class MakeManagerRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
