from booking.kit.errors import Conflict, NotFound, Unauthorized, ValidationFailed


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
