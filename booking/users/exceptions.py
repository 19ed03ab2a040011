from booking.kit.errors import BookingError, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    default_message = "There is no such user"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    default_message = "An account with this e-mail address exists already"


class WeakPassword(ValidationFailed):
    code = "WEAK_PASSWORD"
    default_message = "Please choose a stronger password"


class InvalidCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"
    # the same words for an unknown e-mail and a wrong password
    default_message = "The e-mail address or the password is not right"


class WrongPassword(Forbidden):
    """The account's current password, asked to change the password or the address, is not right."""
    code = "WRONG_PASSWORD"
    default_message = "The current password is not right"


class InvalidResetToken(BookingError):
    # one answer for a wrong, used, expired, voided or tampered link: no hint which
    code = "INVALID_RESET_TOKEN"
    http_status = 400
    default_message = "This password reset link is not valid: ask for a new one"


class InvalidVerificationToken(BookingError):
    code = "INVALID_VERIFICATION_TOKEN"
    http_status = 400
    default_message = "This verification link is not valid: ask for a new one"


class TooManyRequests(BookingError):
    code = "TOO_MANY_REQUESTS"
    http_status = 429
    default_message = "Too many requests; please wait a while and try again"


class StaysToCome(Conflict):
    """An account with a confirmed stay still to come is not deleted: the hotel expects the guest."""
    code = "STAYS_TO_COME"
    default_message = "You have stays to come: cancel them first, then delete the account"


class ExportNotFound(NotFound):
    # someone else's export is as unknown as a missing one
    code = "EXPORT_NOT_FOUND"
    default_message = "There is no such export"


class ExportExpired(BookingError):
    code = "EXPORT_EXPIRED"
    http_status = 410
    default_message = "This export is older than 24 hours and was deleted: ask for a new one"
