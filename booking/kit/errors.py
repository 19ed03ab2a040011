"""Typed errors: part of every service's contract.

An error raised in a service crosses RPC as nameko serialises it and comes back to
the caller as the same class (every subclass registers itself with nameko's
exception registry), so callers write `except HotelNotFound:` rather than matching
strings. The gateway maps each class to an HTTP status and a stable JSON body via
`code` and `http_status`, in one place.
"""
import importlib

from nameko.exceptions import get_module_path, registry


class BookingError(Exception):
    """Base of every error a Booking service raises on purpose."""

    code = "ERROR"
    http_status = 500
    default_message = "Something went wrong"

    def __init__(self, message=None, details=None):
        super().__init__(message or self.default_message, details or {})

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        registry[get_module_path(cls)] = cls

    @property
    def message(self):
        return self.args[0]

    @property
    def details(self):
        return self.args[1]

    def to_dict(self):
        return {"error": self.code, "message": self.message, "details": self.details}


registry[get_module_path(BookingError)] = BookingError


def import_service_errors(service_name):
    """Make a service's typed errors known in this process, so that they arrive
    as themselves (nameko rebuilds a remote error only if its class is registered)."""
    try:
        importlib.import_module(f"booking.{service_name}.exceptions")
    except ModuleNotFoundError:
        pass


class ValidationFailed(BookingError):
    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "The request is not valid"


class Unauthorized(BookingError):
    code = "UNAUTHORIZED"
    http_status = 401
    default_message = "Authentication is required"


class Forbidden(BookingError):
    code = "FORBIDDEN"
    http_status = 403
    default_message = "You are not allowed to do that"


class NotFound(BookingError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "Not found"


class Conflict(BookingError):
    code = "CONFLICT"
    http_status = 409
    default_message = "The request conflicts with the current state"


class ServiceUnavailable(BookingError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    default_message = "A service is not available right now"


class IdempotencyKeyReused(BookingError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422
    default_message = "This Idempotency-Key was used for a different request"
