from booking.kit.errors import NotFound


class HotelNotFound(NotFound):
    code = "HOTEL_NOT_FOUND"
    default_message = "There is no such hotel"
