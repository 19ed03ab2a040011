"""A booking confirmation, as a hotel chain sends it: one room or several (each on
its rate plan), the VAT included, the city tax added and the cancellation policy."""
from decimal import ROUND_HALF_UP, Decimal

from marshmallow import ValidationError, fields, validate, validates_schema
from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from booking.kit.schemas import MAX_ROOMS, Schema, minor_digits
from booking.reports.document import facts, figures, heading, spacer, text

title = "Booking confirmation"

DEFAULT_POLICY = ("Free cancellation until 48 hours before check-in; after that the first night is charged. "
                  "Cancel from My bookings or by replying to the confirmation e-mail.")
# the most decimals an amount has: none (JPY), two (EUR) or three (BHD)
MAX_DECIMALS = 3
CLOCK = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="Not a time as HH:MM.")
CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="Not a currency code (three capital letters).")
# the largest amount printed (a price, not a typing error)
MAX_AMOUNT = Decimal(10) ** 12


def decimals(amount):
    """2 for "123.40" and "123.4", 0 for "12340" and "1E+3"."""
    return max(0, -amount.normalize().as_tuple().exponent)


def at_most_three_decimals(amount):
    if decimals(amount) > MAX_DECIMALS:
        raise ValidationError(f"An amount has at most {MAX_DECIMALS} decimals.")


def amount_field(**options):
    """A non-negative decimal string ("12340" JPY, "123.40" EUR, "12.340" BHD)."""
    return fields.Decimal(as_string=True, validate=[validate.Range(min=0, max=MAX_AMOUNT), at_most_three_decimals],
                          **options)


def shown(amount, currency):
    """"123.40 EUR", "12340 JPY", "12.340 BHD": the amount with the decimals it was
    given, and at least as many as its currency has ("450" EUR is "450.00 EUR")."""
    places = max(decimals(amount), minor_digits(currency))
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f} {currency}"


def percent(rate):
    """ "10%" from "10.00", "7.7%" from "7.70"."""
    return f"{rate.normalize():f}%"


class RoomSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guests = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    nights = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    # the room's price for all its nights
    price = amount_field(required=True)


class DataSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    guest_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guest_email = fields.Email(load_default=None)
    hotel_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hotel_address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    room_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    # every guest of the booking, all rooms together
    guests = fields.Integer(required=True, validate=validate.Range(min=1, max=20 * MAX_ROOMS))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)
    check_in_time = fields.String(load_default="15:00", validate=CLOCK)
    check_out_time = fields.String(load_default="11:00", validate=CLOCK)
    nightly_price = amount_field(required=True)
    # one row each in the price table; without them (or an empty list), one row of
    # room_name at nightly_price
    rooms = fields.List(fields.Nested(RoomSchema), load_default=None, validate=validate.Length(max=MAX_ROOMS))
    # the VAT included in the prices, and its rate in percent ("10.00")
    taxes = amount_field(required=True)
    vat_rate = fields.Decimal(as_string=True, load_default=None, validate=validate.Range(min=0, max=100))
    # added to the room prices (paid with them)
    city_tax = amount_field(load_default=Decimal(0))
    total = amount_field(required=True)
    currency = fields.String(required=True, validate=CURRENCY)
    cancellation_policy = fields.String(load_default=DEFAULT_POLICY, validate=validate.Length(max=3000))

    @validates_schema
    def check_stay(self, data, **kwargs):
        if "check_in" in data and "check_out" in data and data["check_out"] <= data["check_in"]:
            raise ValidationError("Check-out must be after check-in.", "check_out")


def filename(data):
    return f"confirmation-{data['reference']}.pdf"


def qr_code(value, size=30 * mm):
    # the flowable paints straight on the page; the graphics widget encoded the code
    # twice and built a shape per module, half of the whole document's time
    return QrCode(value, width=size, height=size)


def guests(count):
    return f"{count} guest{'s' if count != 1 else ''}"


def price_rows(data):
    """One row per room: its name, nights, price per night (rounded to the currency's
    unit) and price for all nights; or the one room of older bookings."""
    money = lambda amount: shown(amount, data["currency"])  # noqa: E731
    if not data["rooms"]:
        nights = (data["check_out"] - data["check_in"]).days
        return [[data["room_name"], str(nights), money(data["nightly_price"]), money(data["nightly_price"] * nights)]]
    unit = Decimal(1).scaleb(-minor_digits(data["currency"]))
    return [[room["name"], str(room["nights"]),
             money((room["price"] / room["nights"]).quantize(unit, ROUND_HALF_UP)), money(room["price"])]
            for room in data["rooms"]]


def room_facts(data):
    if not data["rooms"]:
        return [("Room", f"{data['room_name']}, {guests(data['guests'])}")]
    if len(data["rooms"]) == 1:
        return [("Room", f"{data['rooms'][0]['name']}, {guests(data['rooms'][0]['guests'])}")]
    return [(f"Room {n}", f"{room['name']}, {guests(room['guests'])}") for n, room in enumerate(data["rooms"], 1)]


def flowables(data):
    money = lambda amount: shown(amount, data["currency"])  # noqa: E731
    top = Table([[
        [text(f"Your booking at {data['hotel_name']} is confirmed", "title"),
         text(f"Reference {data['reference']}"), spacer(2),
         text(f"Dear {data['guest_name']}, thank you for booking with us. Show this confirmation "
              "or its code at the front desk.", "muted")],
        qr_code(data["reference"]),
    ]], colWidths=[None, 34 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    vat = "Taxes included" if data["vat_rate"] is None else f"VAT {percent(data['vat_rate'])} included"
    totals = [(vat, money(data["taxes"]), False)]
    if data["city_tax"]:
        totals.append(("City tax (added)", money(data["city_tax"]), False))
    totals.append(("Total paid", money(data["total"]), True))
    return [
        top,
        heading("Your stay"),
        facts([
            ("Hotel", data["hotel_name"]),
            ("Address", data["hotel_address"]),
            ("Guest", data["guest_name"] + (f" ({data['guest_email']})" if data.get("guest_email") else "")),
            ("Check-in", data["check_in"].strftime("%A %d %B %Y") + f", from {data['check_in_time']}"),
            ("Check-out", data["check_out"].strftime("%A %d %B %Y") + f", until {data['check_out_time']}"),
            *room_facts(data),
        ]),
        heading("Price"),
        figures(["", "Nights", "Per night", "Amount"], price_rows(data), totals),
        heading("Cancellation policy"),
        text(data["cancellation_policy"]),
        spacer(6),
        text(f"Reference {data['reference']} · keep this document for your records.", "muted"),
    ]
