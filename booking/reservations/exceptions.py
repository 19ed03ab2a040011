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
