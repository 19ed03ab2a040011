"""A payment receipt."""
from marshmallow import fields, validate

from booking.kit.schemas import Schema
from booking.reports.document import facts, figures, heading, spacer, text
from booking.reports.templates.confirmation import amount_field, shown

title = "Payment receipt"


class DataSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    payment_id = fields.String(required=True, validate=validate.Length(min=1, max=60))
    guest_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=300))
    # as given, in the currency's own digits (none for JPY, three for BHD)
    amount = amount_field(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    card_brand = fields.String(required=True, validate=validate.Length(min=1, max=20))
    card_last4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}$"))
    bank_reference = fields.String(required=True, validate=validate.Length(min=1, max=60))
    paid_at = fields.DateTime(required=True)


def filename(data):
    return f"receipt-{data['reference']}.pdf"


def flowables(data):
    amount = shown(data["amount"], data["currency"])
    return [
        text("Payment receipt", "title"),
        text(f"Received from {data['guest_name']} with thanks.", "muted"),
        heading("Payment"),
        facts([
            ("Booking", data["reference"]),
            ("Date", data["paid_at"].strftime("%d %B %Y, %H:%M UTC")),
            ("Card", f"{data['card_brand'].title()} ending in {data['card_last4']}"),
            ("Bank reference", data["bank_reference"]),
            ("Payment", data["payment_id"]),
        ]),
        heading("Amount"),
        figures(["Description", "", "Amount"], [[data["description"], "", amount]],
                [("Total paid", amount, True)]),
        spacer(6),
        text("This receipt confirms a payment received; it is not a tax invoice.", "muted"),
    ]
