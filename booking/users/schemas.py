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


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    created_at = UtcDateTime()
    # the owner opened a verification link sent to this address
    email_verified = fields.Boolean()
    # the owner deleted the account: what it shows is no one's (booking/users/erasure.py)
    deleted = fields.Boolean()


class UserRegisteredEvent(Schema):
    user_id = fields.Integer()
    email = fields.String()
    full_name = fields.String()


class UserIdsRequest(Schema):
    user_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)), required=True,
                           validate=validate.Length(max=1000))


class MakeManagerRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class PasswordResetRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    client_address = fields.String(load_default=None, validate=validate.Length(max=100))


class ResetPasswordRequest(Schema):
    # a token is checked against its hash, whatever it is: here only its type and size
    token = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class LinkTokenRequest(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ChangePasswordRequest(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ChangeEmailRequest(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    new_email = fields.Email(required=True, validate=validate.Length(max=320))

    @pre_load
    def trim(self, data, **kwargs):
        email = data.get("new_email")
        return {**data, "new_email": email.strip()} if isinstance(email, str) else data

    @post_load
    def normalise(self, data, **kwargs):
        return {**data, "new_email": normalise_email(data["new_email"])}


class PasswordChangedEvent(Schema):
    user_id = fields.Integer()
    # the password's version now: auth signs out every token issued with an older one
    credentials_version = fields.Integer()


class AccountMailEvent(Schema):
    user_id = fields.Integer()
    # password_reset, verify_email, change_email, email_changed
    kind = fields.String()
    # the e-mail kept in users' sent_emails: its handler sends it once
    mail_key = fields.String()


class DeleteAccountRequest(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class UserDeletedEvent(Schema):
    user_id = fields.Integer()
    # as password_changed's: auth signs out every token issued before
    credentials_version = fields.Integer()


class ExportIdRequest(Schema):
    export_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$", error="Not an export id."))


class DataExportSchema(Schema):
    id = fields.String()
    # preparing -> ready -> expired
    status = fields.String()
    created_at = UtcDateTime()
    ready_at = UtcDateTime(allow_none=True)
    # downloadable until then
    expires_at = UtcDateTime(allow_none=True)
    size = fields.Integer(allow_none=True)


class ExportRequestedEvent(Schema):
    user_id = fields.Integer()
    export_id = fields.String()
