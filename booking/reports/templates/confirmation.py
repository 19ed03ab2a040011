"""A booking confirmation, as a hotel chain sends it."""
from marshmallow import fields, validate
from reportlab.graphics.barcode.qr import QrCode
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from booking.kit.schemas import Schema
from booking.reports.document import facts, figures, heading, spacer, text

title = "Booking confirmation"

DEFAULT_POLICY = ("Free cancellation until 48 hours before check-in; after that the first night is charged. "
                  "Cancel from My bookings or by replying to the confirmation e-mail.")


class DataSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    guest_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guest_email = fields.Email(load_default=None)
    hotel_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hotel_address = fields.String(required=True, validate=validate.Length(min=1, max=300))
    room_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    guests = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    check_in = fields.Date(required=True)
    check_out = fields.Date(required=True)
    nightly_price = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))
    taxes = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))
    total = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    cancellation_policy = fields.String(load_default=DEFAULT_POLICY, validate=validate.Length(max=1000))


def filename(data):
    return f"confirmation-{data['reference']}.pdf"


def qr_code(value, size=30 * mm):
    # the flowable paints straight on the page; the graphics widget encoded the code
    # twice and built a shape per module, half of the whole document's time
    return QrCode(value, width=size, height=size)


def flowables(data):
    nights = (data["check_out"] - data["check_in"]).days
    money = lambda amount: f"{amount} {data['currency']}"  # noqa: E731
    top = Table([[
        [text(f"Your booking at {data['hotel_name']} is confirmed", "title"),
         text(f"Reference {data['reference']}"), spacer(2),
         text(f"Dear {data['guest_name']}, thank you for booking with us. Show this confirmation "
              "or its code at the front desk.", "muted")],
        qr_code(data["reference"]),
    ]], colWidths=[None, 34 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [
        top,
        heading("Your stay"),
        facts([
            ("Hotel", data["hotel_name"]),
            ("Address", data["hotel_address"]),
            ("Guest", data["guest_name"] + (f" ({data['guest_email']})" if data.get("guest_email") else "")),
            ("Check-in", data["check_in"].strftime("%A %d %B %Y") + ", from 15:00"),
            ("Check-out", data["check_out"].strftime("%A %d %B %Y") + ", until 11:00"),
            ("Room", f"{data['room_name']}, {data['guests']} guest{'s' if data['guests'] != 1 else ''}"),
        ]),
        heading("Price"),
        figures(["", "Nights", "Per night", "Amount"],
                [[data["room_name"], str(nights), money(data["nightly_price"]), money(data["nightly_price"] * nights)]],
                [("Taxes included", money(data["taxes"]), False), ("Total paid", money(data["total"]), True)]),
        heading("Cancellation policy"),
        text(data["cancellation_policy"]),
        spacer(6),
        text(f"Reference {data['reference']} · keep this document for your records.", "muted"),
    ]
