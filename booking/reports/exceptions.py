from booking.kit.errors import NotFound, ServiceUnavailable


class UnknownTemplate(NotFound):
    code = "UNKNOWN_TEMPLATE"
    default_message = "There is no such document template"


class FontsMissing(ServiceUnavailable):
    code = "FONTS_MISSING"
    default_message = "The fonts documents are printed with are not installed"
