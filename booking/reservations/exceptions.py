from booking.kit.errors import Conflict, NotFound


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
