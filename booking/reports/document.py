"""The look every document shares: a header band with the brand and the title, a
footer with the page number, a clear type scale and aligned figures."""
import io

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from booking.reports.fonts import markup

BRAND = colors.HexColor("#0b5cad")
INK = colors.HexColor("#1d2330")
MUTED = colors.HexColor("#5b6475")
LINE = colors.HexColor("#dde2ea")
MARGIN = 18 * mm

STYLES = {
    "title": ParagraphStyle("title", fontName="Sans-Bold", fontSize=18, leading=22, textColor=INK,
                            spaceAfter=2 * mm),
    "heading": ParagraphStyle("heading", fontName="Sans-Bold", fontSize=11, leading=14, textColor=BRAND,
                              spaceBefore=5 * mm, spaceAfter=2 * mm),
    "body": ParagraphStyle("body", fontName="Sans", fontSize=9.5, leading=13, textColor=INK),
    "muted": ParagraphStyle("muted", fontName="Sans", fontSize=8.5, leading=11, textColor=MUTED),
    "label": ParagraphStyle("label", fontName="Sans", fontSize=8.5, leading=11, textColor=MUTED),
    "label-right": ParagraphStyle("label-right", fontName="Sans", fontSize=8.5, leading=11, textColor=MUTED,
                                  alignment=TA_RIGHT),
    "figure": ParagraphStyle("figure", fontName="Sans", fontSize=9.5, leading=13, textColor=INK,
                             alignment=TA_RIGHT),
    "total": ParagraphStyle("total", fontName="Sans-Bold", fontSize=11, leading=14, textColor=INK,
                            alignment=TA_RIGHT),
}


def text(value, style="body"):
    return Paragraph(markup(value), STYLES[style])


def heading(value):
    return text(value, "heading")


def facts(rows, widths=(45 * mm, None)):
    """Label and value, one pair a row."""
    table = Table([[text(label, "label"), text(value)] for label, value in rows], colWidths=widths)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def figures(header, rows, totals):
    """A table of lines whose last columns are amounts, right-aligned, with totals."""
    amounts = len(header) - 2  # the last two columns hold amounts
    body = [[text(cell, "label" if i < amounts else "label-right") for i, cell in enumerate(header)]]
    for row in rows:
        body.append([text(cell, "body" if i < amounts else "figure") for i, cell in enumerate(row)])
    for label, amount, strong in totals:
        style = "total" if strong else "figure"
        body.append([""] * amounts + [text(label, style), text(amount, style)])
    widths = [None] + [18 * mm] * (amounts - 1) + [40 * mm, 40 * mm]
    table = Table(body, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, len(rows)), (-1, len(rows)), 0.5, LINE),
        ("LINEABOVE", (-2, -1), (-1, -1), 0.8, INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (0, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def spacer(height=4):
    return Spacer(1, height * mm)


def build(title, flowables, subject=""):
    """The PDF bytes and the number of pages."""
    buffer = io.BytesIO()
    pages = []

    def frame(canvas, doc):
        width, height = A4
        canvas.saveState()
        canvas.setFillColor(BRAND)
        canvas.rect(0, height - 22 * mm, width, 22 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont("Sans-Bold", 16)
        canvas.drawString(MARGIN, height - 14 * mm, "Booking")
        canvas.setFont("Sans", 9)
        canvas.drawRightString(width - MARGIN, height - 14 * mm, title)
        canvas.setFillColor(MUTED)
        canvas.setFont("Sans", 7.5)
        canvas.drawString(MARGIN, 10 * mm, "Booking · hotel reservations · booking.local")
        canvas.drawRightString(width - MARGIN, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()
        pages.append(doc.page)

    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=32 * mm, bottomMargin=20 * mm, title=title, author="Booking",
                            subject=subject, creator="Booking reports")
    doc.build(flowables, onFirstPage=frame, onLaterPages=frame)
    return buffer.getvalue(), len(pages)
