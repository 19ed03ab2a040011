"""An invoice: lines, VAT and totals."""
from decimal import Decimal

from marshmallow import fields, validate

from booking.kit.schemas import Schema
from booking.reports.document import facts, figures, heading, spacer, text

title = "Invoice"
CENT = Decimal("0.01")


class LineSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=300))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))
    unit_price = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))


class DataSchema(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    issued_on = fields.Date(required=True)
    bill_to = fields.String(required=True, validate=validate.Length(min=1, max=300))
    lines = fields.List(fields.Nested(LineSchema), required=True, validate=validate.Length(min=1, max=500))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    vat_rate = fields.Decimal(load_default=Decimal("0.10"), validate=validate.Range(min=0, max=1))


def filename(data):
    return f"invoice-{data['number']}.pdf"


def flowables(data):
    money = lambda amount: f"{amount.quantize(CENT)} {data['currency']}"  # noqa: E731
    rows = [[line["description"], str(line["quantity"]), money(line["unit_price"]),
             money(line["unit_price"] * line["quantity"])] for line in data["lines"]]
    total = sum((line["unit_price"] * line["quantity"] for line in data["lines"]), Decimal(0))
    net = (total / (1 + data["vat_rate"])).quantize(CENT)
    return [
        text(f"Invoice {data['number']}", "title"),
        facts([("Issued on", data["issued_on"].strftime("%d %B %Y")), ("Bill to", data["bill_to"])]),
        heading("Lines"),
        figures(["Description", "Qty", "Unit price", "Amount"], rows, [
            ("Net", money(net), False),
            (f"VAT {data['vat_rate'] * 100:.0f}%", money(total - net), False),
            ("Total", money(total), True),
        ]),
        spacer(6),
        text("Prices include VAT. Payment received by card; nothing is due.", "muted"),
    ]
