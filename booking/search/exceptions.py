from booking.kit.errors import BookingError, Conflict, NotFound


class HotelNotFound(NotFound):
    code = "HOTEL_NOT_FOUND"
    default_message = "There is no such hotel"


class RoomNotSellable(BookingError):
    """The stay cannot be sold as asked: an unknown room type or plan, more people
    than the room takes, or dates the rate calendar closes (`details` names the field)."""

    code = "NOT_SELLABLE"
    http_status = 422
    default_message = "This stay cannot be booked as asked"


class RoomTypeNotFound(NotFound):
    code = "ROOM_TYPE_NOT_FOUND"
    default_message = "The hotel has no such room type"


class RoomTypeExists(Conflict):
    code = "ROOM_TYPE_EXISTS"
    default_message = "The hotel has a room type with this code already"
