"""A hotel's monthly report for its manager: the month's figures (rooms available
and sold, occupancy, ADR, RevPAR, room revenue, refunds, penalties kept,
cancellations, no-shows), a chart of each night's occupancy, then the figures of
each room type and of each night. The data is what reservations' `month_figures`
returns (booking/reservations/monthly.py, which says what counts), with the hotel's
name and city."""
from datetime import date

from marshmallow import fields, validate
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Table, TableStyle

from booking.kit.schemas import MAX_ID, Schema, money
from booking.reports.document import BRAND, INK, LINE, MARGIN, MUTED, heading, spacer, text
from booking.reports.fonts import markup
from booking.reports.templates.confirmation import CURRENCY

title = "Monthly report"

MONTH = validate.Regexp(r"^[0-9]{4}-(0[1-9]|1[0-2])$", error="Not a month as YYYY-MM.")
# the widest page content, and the largest count or amount (minor units) printed
WIDTH = A4[0] - 2 * MARGIN
MAX_COUNT = 10**7
MAX_MINOR = 10**15
WEEKEND = colors.HexColor("#f3f6fa")
LIGHT_BRAND = colors.HexColor("#8fb4dc")

CELL = {
    "head": ParagraphStyle("cell-head", fontName="Sans", fontSize=7, leading=9, textColor=MUTED),
    "head-right": ParagraphStyle("cell-head-right", fontName="Sans", fontSize=7, leading=9, textColor=MUTED,
                                 alignment=TA_RIGHT),
    "left": ParagraphStyle("cell", fontName="Sans", fontSize=8, leading=10.5, textColor=INK),
    "right": ParagraphStyle("cell-right", fontName="Sans", fontSize=8, leading=10.5, textColor=INK,
                            alignment=TA_RIGHT),
    "total-left": ParagraphStyle("cell-total", fontName="Sans-Bold", fontSize=8, leading=10.5, textColor=INK),
    "total-right": ParagraphStyle("cell-total-right", fontName="Sans-Bold", fontSize=8, leading=10.5,
                                  textColor=INK, alignment=TA_RIGHT),
    "key": ParagraphStyle("key", fontName="Sans", fontSize=8.5, leading=11, textColor=MUTED),
    "value": ParagraphStyle("value", fontName="Sans-Bold", fontSize=10, leading=13, textColor=INK,
                            alignment=TA_RIGHT),
}


def count_field(**options):
    return fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_COUNT), **options)


def minor_field(**options):
    """An amount in minor units of `currency` (net revenue may fall below zero)."""
    return fields.Integer(required=True, validate=validate.Range(min=-MAX_MINOR, max=MAX_MINOR), **options)


def occupancy_field():
    # sold / available, 0 to 1 (more only if more was sold than the hotel said it had)
    return fields.Float(required=True, validate=validate.Range(min=0, max=100))


class DaySchema(Schema):
    date = fields.Date(required=True)
    rooms_available = count_field()
    rooms_sold = count_field()
    occupancy = occupancy_field()
    revenue_minor = minor_field()


class PeriodSchema(Schema):
    rooms_available = count_field()
    rooms_sold = count_field()
    occupancy = occupancy_field()
    adr_minor = minor_field()
    revpar_minor = minor_field()
    revenue_minor = minor_field()
    refunds_minor = minor_field()
    penalties_minor = minor_field()
    cancellations = count_field()
    no_shows = count_field()


class RoomTypeSchema(PeriodSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # its nights (what the CSV lists; not printed)
    days = fields.List(fields.Nested(DaySchema), load_default=None, validate=validate.Length(max=31))


class DataSchema(Schema):
    hotel_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    hotel_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hotel_city = fields.String(load_default=None, validate=validate.Length(min=1, max=100))
    month = fields.String(required=True, validate=MONTH)
    currency = fields.String(required=True, validate=CURRENCY)
    totals = fields.Nested(PeriodSchema, required=True)
    room_types = fields.List(fields.Nested(RoomTypeSchema), required=True, validate=validate.Length(max=100))
    days = fields.List(fields.Nested(DaySchema), required=True, validate=validate.Length(min=28, max=31))


def filename(data):
    return f"monthly-report-{data['hotel_id']}-{data['month']}.pdf"


def month_name(data):
    """"January 2027" from "2027-01"."""
    return date.fromisoformat(data["month"] + "-01").strftime("%B %Y")


def percent(fraction):
    """"63.3%" from 0.6329."""
    return f"{fraction * 100:.1f}%"


def cell(value, style="right"):
    return Paragraph(markup(value), CELL[style])


def key_figures(data, amount):
    """The month's totals as two columns of label and value."""
    totals = data["totals"]
    left = [("Occupancy", percent(totals["occupancy"])),
            ("ADR (revenue per room sold)", amount(totals["adr_minor"])),
            ("RevPAR (per room available)", amount(totals["revpar_minor"])),
            ("Room revenue, net of refunds", amount(totals["revenue_minor"])),
            ("Refunds granted", amount(totals["refunds_minor"]))]
    right = [("Rooms available (room-nights)", str(totals["rooms_available"])),
             ("Rooms sold (room-nights)", str(totals["rooms_sold"])),
             ("Penalties kept", amount(totals["penalties_minor"])),
             ("Cancelled rooms", str(totals["cancellations"])),
             ("No-shows (rooms)", str(totals["no_shows"]))]
    rows = [[cell(a, "key"), cell(b, "value"), "", cell(c, "key"), cell(d, "value")]
            for (a, b), (c, d) in zip(left, right, strict=True)]
    # values up to 10 000 000.00 EUR on one line
    table = Table(rows, colWidths=[47 * mm, 37 * mm, 6 * mm, 47 * mm, None])
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (1, -1), 0.5, LINE), ("LINEBELOW", (3, 0), (4, -1), 0.5, LINE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def occupancy_chart(data):
    """Each night's occupancy as a bar, 0 to 100 %, weekends (Friday and Saturday
    nights) lighter."""
    drawing = Drawing(WIDTH, 58 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 10 * mm, 9 * mm
    chart.width, chart.height = WIDTH - 12 * mm, 45 * mm
    nights = [date.fromisoformat(str(day["date"])) for day in data["days"]]
    chart.data = [[min(day["occupancy"], 1) * 100 for day in data["days"]]]
    chart.bars[0].fillColor = BRAND
    chart.bars[0].strokeColor = None
    for n, night in enumerate(nights):
        if night.weekday() in (4, 5):
            chart.bars[(0, n)].fillColor = LIGHT_BRAND
    chart.barSpacing, chart.groupSpacing = 0, 2
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 25
    chart.valueAxis.labelTextFormat = "%d%%"
    chart.valueAxis.labels.fontName, chart.valueAxis.labels.fontSize = "Sans", 7
    chart.valueAxis.labels.fillColor = MUTED
    chart.valueAxis.strokeColor = LINE
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, LINE
    chart.valueAxis.gridStrokeWidth = 0.5
    chart.categoryAxis.categoryNames = [str(night.day) for night in nights]
    chart.categoryAxis.labels.fontName, chart.categoryAxis.labels.fontSize = "Sans", 7
    chart.categoryAxis.labels.fillColor = MUTED
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.strokeColor = MUTED
    chart.categoryAxis.visibleTicks = False
    drawing.add(chart)
    drawing.add(String(chart.x + chart.width, 1 * mm, "Friday and Saturday nights lighter",
                       fontName="Sans", fontSize=7, fillColor=MUTED, textAnchor="end"))
    return drawing


def grid(header, rows, widths, total=None, shaded=()):
    """A table of figures: the first column left, the others right-aligned; an
    optional bold total row; rows numbered in `shaded` on a light background."""
    body = [[cell(name, "head" if i == 0 else "head-right") for i, name in enumerate(header)]]
    body += [[cell(value, "left" if i == 0 else "right") for i, value in enumerate(row)] for row in rows]
    if total:
        body.append([cell(value, "total-left" if i == 0 else "total-right") for i, value in enumerate(total)])
    table = Table(body, colWidths=widths, repeatRows=1)
    style = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, LINE),
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    style += [("BACKGROUND", (0, n + 1), (-1, n + 1), WEEKEND) for n in shaded]
    if total:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.8, INK))
    table.setStyle(TableStyle(style))
    return table


def room_type_tables(data, amount):
    """Two tables of the same rows: what each room type sold, then what its
    cancellations and no-shows gave back and kept."""
    kinds = [(kind["name"], kind) for kind in data["room_types"]] + [("Total", data["totals"])]
    sales = [[name, str(f["rooms_available"]), str(f["rooms_sold"]), percent(f["occupancy"]), amount(f["adr_minor"]),
              amount(f["revpar_minor"]), amount(f["revenue_minor"])] for name, f in kinds]
    losses = [[name, amount(f["refunds_minor"]), amount(f["penalties_minor"]), str(f["cancellations"]),
               str(f["no_shows"])] for name, f in kinds]
    return [
        grid(["Room type", "Available", "Sold", "Occupancy", "ADR", "RevPAR", "Revenue"], sales[:-1],
             [None, 16 * mm, 16 * mm, 18 * mm, 20 * mm, 20 * mm, 24 * mm], total=sales[-1]),
        spacer(4),
        grid(["Room type", "Refunds", "Penalties kept", "Cancelled rooms", "No-shows"], losses[:-1],
             [None, 24 * mm, 24 * mm, 24 * mm, 20 * mm], total=losses[-1]),
    ]


def day_table(data, amount):
    rows, shaded = [], []
    for n, day in enumerate(data["days"]):
        night = date.fromisoformat(str(day["date"]))
        sold, available, revenue = day["rooms_sold"], day["rooms_available"], day["revenue_minor"]
        rows.append([night.strftime("%a %d %b"), str(available), str(sold), percent(day["occupancy"]),
                     amount(divided(revenue, sold)), amount(divided(revenue, available)), amount(revenue)])
        if night.weekday() in (4, 5):
            shaded.append(n)
    totals = data["totals"]
    total = ["Month", str(totals["rooms_available"]), str(totals["rooms_sold"]), percent(totals["occupancy"]),
             amount(totals["adr_minor"]), amount(totals["revpar_minor"]), amount(totals["revenue_minor"])]
    header = ["Night", "Available", "Sold", "Occupancy", "ADR", "RevPAR", "Revenue"]
    widths = [None] + [22 * mm] * 6
    return grid(header, rows, widths, total=total, shaded=shaded)


def divided(amount_minor, count):
    """Rounded half up to a minor unit, as the month's ADR and RevPAR are; 0 for none."""
    if not count:
        return 0
    whole, rest = divmod(abs(amount_minor), count)
    rounded = whole + (1 if 2 * rest >= count else 0)
    return rounded if amount_minor >= 0 else -rounded


def flowables(data):
    currency = data["currency"]
    with_currency = lambda minor: f"{money(minor, currency)['amount']} {currency}"  # noqa: E731
    bare = lambda minor: money(minor, currency)["amount"]  # noqa: E731
    where = f"{data['hotel_name']}, {data['hotel_city']}" if data["hotel_city"] else data["hotel_name"]
    return [
        text(f"Monthly report — {data['hotel_name']} — {month_name(data)}", "title"),
        text(f"{where} · hotel {data['hotel_id']} · the nights of {month_name(data)} · amounts in {currency}, "
             "VAT included, city tax excluded", "muted"),
        heading("The month"),
        key_figures(data, with_currency),
        heading("Daily occupancy"),
        occupancy_chart(data),
        heading(f"Room types (amounts in {currency})"),
        *room_type_tables(data, bare),
        spacer(3),
        text("Sold: the nights of rooms booked and paid (confirmed, checked in or out); a room cancelled or "
             "not come to is not sold. Revenue: the room prices of the nights sold, VAT included, city tax "
             "excluded, net of refunds (a refunded room is not sold). Refunds, penalties kept, cancelled rooms and "
             "no-shows count in the month of the booking's check-in.", "muted"),
        # on a page of its own if it fits on one, else from here on
        KeepTogether([heading(f"Nights (amounts in {currency})"), day_table(data, bare)]),
    ]
