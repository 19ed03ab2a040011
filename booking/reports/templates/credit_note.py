"""A credit note: what a cancellation gives back, as a hotel chain sends it when it
refunds (what had been paid, what the cancellation policy kept, what goes back to
the card)."""
from datetime import UTC, datetime
from decimal import Decimal

from marshmallow import ValidationError, fields, validate, validates_schema
from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from booking.kit.schemas import Schema
from booking.reports.document import INK, LINE, facts, heading, spacer, text
from booking.reports.templates.confirmation import CURRENCY, amount_field, shown

title = "Credit note"
MINUS = "\u2212"


class Instant(fields.DateTime):
    """An ISO 8601 string or a datetime; one without a zone is taken as UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        instant = value if isinstance(value, datetime) else super()._deserialize(value, attr, data, **kwargs)
        return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant


class DataSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    # it names the file: no path separator, no blank
    refund_id = fields.String(required=True, validate=[validate.Length(min=1, max=80),
                                                       validate.Regexp(r"^[^\s/\\]+$", error="No blanks or slashes.")])
    guest_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guest_email = fields.Email(load_default=None)
    hotel_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=300))
    # what had been paid, what is refunded now and what the cancellation policy kept
    paid = amount_field(required=True)
    refund = amount_field(required=True)
    kept = amount_field(load_default=Decimal(0))
    currency = fields.String(required=True, validate=CURRENCY)
    refunded_at = Instant(required=True)
    card_brand = fields.String(load_default=None, validate=validate.Length(min=1, max=20))
    card_last4 = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9]{4}$"))
    cancellation_policy = fields.String(load_default=None, validate=validate.Length(min=1, max=3000))

    @validates_schema
    def check_sums(self, data, **kwargs):
        if {"paid", "refund", "kept"} <= set(data) and data["refund"] + data["kept"] > data["paid"]:
            raise ValidationError("The refund and what was kept exceed what was paid.", "refund")


def filename(data):
    return f"credit-note-{data['refund_id']}.pdf"


def card(data):
    """ "VISA •••• 4242", "VISA", "card •••• 4242" or "the card that paid"."""
    last4 = f"•••• {data['card_last4']}" if data["card_last4"] else ""
    if data["card_brand"]:
        return f"{data['card_brand'].upper()} {last4}".strip()
    return f"card {last4}" if last4 else "the card that paid"


def settlement(rows, total):
    """Lines of (label, amount) and the bold total under them, amounts right-aligned
    (the look of `figures`, with room for a long total label)."""
    body = [[text("Description", "label"), text("Amount", "label-right")]]
    body += [[text(label), text(amount, "figure")] for label, amount in rows]
    body.append([text(total[0], "total"), text(total[1], "total")])
    table = Table(body, colWidths=[None, 40 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, len(rows)), (-1, len(rows)), 0.5, LINE),
        ("LINEABOVE", (-1, -1), (-1, -1), 0.8, INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (0, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def flowables(data):
    money = lambda amount: shown(amount, data["currency"])  # noqa: E731
    credit = lambda amount: MINUS + money(amount) if amount else money(amount)  # noqa: E731
    rows = [("Paid", money(data["paid"])), ("Kept under the cancellation policy", credit(data["kept"]))]
    rest = data["paid"] - data["kept"] - data["refund"]
    if rest:
        rows.append(("Not refunded now (rooms still booked, or refunded earlier)", credit(rest)))
    guest = data["guest_name"] + (f" ({data['guest_email']})" if data["guest_email"] else "")
    when = data["refunded_at"].astimezone(UTC).strftime("%d %B %Y, %H:%M UTC")
    parts = [
        text("Credit note", "title"),
        text(f"Issued to {data['guest_name']} for booking {data['reference']}.", "muted"),
        heading("Refund"),
        facts([
            ("Booking", data["reference"]),
            ("Hotel", data["hotel_name"]),
            ("Guest", guest),
            ("For", data["description"]),
            ("Date", when),
            ("Refund number", data["refund_id"]),
        ]),
        heading("Amount"),
        settlement(rows, (f"Refunded to {card(data)}", money(data["refund"]))),
    ]
    if data["cancellation_policy"]:
        parts += [heading("Cancellation policy"), text(data["cancellation_policy"])]
    return parts + [
        spacer(6),
        text("The refund goes back to the card that paid; your bank may take a few days to show it. "
             "This credit note corrects the booking's invoice by the amount refunded.", "muted"),
    ]
