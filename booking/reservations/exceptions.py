from booking.kit.errors import BookingError, Conflict, NotFound


class ReservationNotFound(NotFound):
    code = "RESERVATION_NOT_FOUND"
    default_message = "There is no such reservation"


class NoRoomLeft(Conflict):
    code = "NO_ROOM_LEFT"
    default_message = "No room of this type is left for every night of the stay"


class RoomTypeNotFound(NotFound):
    code = "ROOM_TYPE_NOT_FOUND"
    default_message = "This hotel has no such room type for that many guests"


class ReservationNotCancellable(Conflict):
    code = "NOT_CANCELLABLE"
    default_message = "This reservation can no longer be cancelled"


class NotConfirmed(Conflict):
    code = "NOT_CONFIRMED"
    default_message = "This reservation is not confirmed (yet), so it has no confirmation"


class NotChangeable(Conflict):
    """`details.reason`: not_confirmed, stay_started, nonrefundable,
    free_cancellation_over (the change itself would make it non-refundable too)."""

    code = "NOT_CHANGEABLE"
    default_message = "This booking can no longer be changed"


class ChangeInProgress(Conflict):
    code = "CHANGE_IN_PROGRESS"
    default_message = "A change of this booking with this key is still being made"


class CardNeeded(BookingError):
    """The change costs more than was paid: send it again with a card."""

    code = "CARD_NEEDED"
    http_status = 402
    default_message = "The new stay costs more: a card is needed to pay the difference"


class RoomsSold(Conflict):
    """Fewer rooms than are sold on some night: `details.nights` lists them."""

    code = "ROOMS_SOLD"
    default_message = "More rooms than that are sold on some nights"


class NotAllowedNow(Conflict):
    """A stay's step (check-in, check-out, no-show) that its state or the day does
    not allow: `details.reason` says which."""

    code = "NOT_ALLOWED_NOW"
    default_message = "This cannot be done to this reservation now"
