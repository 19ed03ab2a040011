"""OAuth2 errors (RFC 6749 §5.2): `code` is the standard `error` value."""
from booking.kit.errors import BookingError


class OAuthError(BookingError):
    code = "invalid_request"
    http_status = 400
    default_message = "The request is missing a parameter or is malformed"

    def to_oauth(self):
        return {"error": self.code, "error_description": self.message}


class InvalidClient(OAuthError):
    code = "invalid_client"
    http_status = 401
    default_message = "Client authentication failed"


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    default_message = "The grant is invalid, expired or revoked"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    default_message = "This grant type is not supported"


class InvalidScope(OAuthError):
    code = "invalid_scope"
    default_message = "The requested scope is not allowed for this client"


class TooManyAttempts(BookingError):
    code = "TOO_MANY_ATTEMPTS"
    http_status = 429
    default_message = "Too many failed attempts; please wait a while and try again"
