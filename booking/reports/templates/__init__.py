"""The document templates: each module has a `DataSchema` (what it needs), a
`title`, a `filename(data)` and `flowables(data)` (what it prints)."""
from booking.reports.templates import confirmation, credit_note, invoice, monthly_report, receipt

TEMPLATES = {
    "booking_confirmation": confirmation,
    "payment_receipt": receipt,
    "invoice": invoice,
    "credit_note": credit_note,
    "monthly_report": monthly_report,
}
