"""The document templates rendered for real: the text a reader extracts, the file's
structure (qpdf), and page 1 as a picture (kept under var/test/artifacts/)."""
import base64
import io
import subprocess
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from booking.kit.config import PROJECT_ROOT
from booking.kit.errors import ValidationFailed
from booking.reports import rendering
from booking.reports.exceptions import UnknownTemplate

ARTIFACTS = PROJECT_ROOT / "var" / "test" / "artifacts"

CONFIRMATION = {
    "reference": "BK7F3K9QX2", "guest_name": "Zoë Ångström", "guest_email": "zoe@example.com",
    "hotel_name": "Grand Hôtel Łódź 東京", "hotel_address": "1 Piotrkowska, Łódź", "room_name": "Junior Suite",
    "guests": 2, "check_in": "2027-03-01", "check_out": "2027-03-04", "nightly_price": "150.00",
    "taxes": "40.91", "total": "450.00", "currency": "EUR",
}
RECEIPT = {
    "reference": "BK7F3K9QX2", "payment_id": "pay_abc123", "guest_name": "Zoë Ångström",
    "description": "Booking BK7F3K9QX2", "amount": "450.00", "currency": "EUR", "card_brand": "visa",
    "card_last4": "4242", "bank_reference": "ch_0f9fcbf2", "paid_at": "2026-11-22T01:00:00+00:00",
}
CONFIRMATION_OF_ROOMS = {
    **CONFIRMATION, "room_name": "Double Room", "guests": 5, "check_in": "2027-01-11", "check_out": "2027-01-18",
    "check_in_time": "14:00", "check_out_time": "10:30", "nightly_price": "153.45",
    "rooms": [{"name": "Double Room (Flexible)", "guests": 2, "nights": 7, "price": "1074.15"},
              {"name": "Family Suite (Non-refundable)", "guests": 3, "nights": 7, "price": "1680.00"}],
    "city_tax": "35.00", "vat_rate": "10.00", "taxes": "250.38", "total": "2789.15",
    "cancellation_policy": "Free cancellation until Sun 10 Jan 2027, 15:00 (Europe/Paris time); after that "
                           "the first night (153.45 EUR) is charged.",
}
CREDIT_NOTE = {
    "reference": "BK7F3K9QX2", "refund_id": "refund-pay_abc123", "guest_name": "Zoë Ångström",
    "guest_email": "zoe@example.com", "hotel_name": "Grand Hôtel Łódź 東京",
    "description": "Cancellation of Double Room (Flexible), 11–18 Jan 2027", "paid": "1074.15",
    "refund": "920.70", "kept": "153.45", "currency": "EUR", "refunded_at": "2027-01-10T16:20:00+01:00",
    "card_brand": "visa", "card_last4": "4242",
    "cancellation_policy": "Free cancellation until Sun 10 Jan 2027, 15:00 (Europe/Paris time); after that "
                           "the first night (153.45 EUR) is charged.",
}
INVOICE = {
    "number": "INV-2026-0042", "issued_on": "2026-11-22", "bill_to": "Zoë Ångström, 東京",
    "lines": [{"description": "Junior Suite, 3 nights", "quantity": 3, "unit_price": "150.00"},
              {"description": "Breakfast", "quantity": 2, "unit_price": "18.50"}],
    "currency": "EUR",
}


def rendered(template, data):
    document = rendering.render(template, data)
    pdf = base64.b64decode(document["content_base64"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / document["filename"]
    path.write_bytes(pdf)
    return document, pdf, path


def text_of(pdf):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def check_structure_and_picture(path):
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(path), str(path.with_suffix(""))],
                   check=True, capture_output=True)
    assert path.with_name(path.stem + "-1.png").stat().st_size > 10_000


@pytest.mark.parametrize("template, data, expected", [
    ("booking_confirmation", CONFIRMATION,
     ["BK7F3K9QX2", "Zoë Ångström", "Grand Hôtel Łódź 東京", "1 Piotrkowska, Łódź", "Junior Suite",
      "01 March 2027", "04 March 2027", "150.00 EUR", "450.00 EUR", "40.91 EUR", "Cancellation policy"]),
    ("payment_receipt", RECEIPT,
     ["BK7F3K9QX2", "Zoë Ångström", "450.00 EUR", "Visa ending in 4242", "ch_0f9fcbf2", "22 November 2026"]),
    ("payment_receipt", {**RECEIPT, "amount": "12340", "currency": "JPY"}, ["12340 JPY"]),
    ("booking_confirmation", CONFIRMATION_OF_ROOMS,
     ["Double Room (Flexible)", "1074.15 EUR", "Family Suite (Non-refundable)", "240.00 EUR", "1680.00 EUR",
      "Room 1", "2 guests", "Room 2", "3 guests", "from 14:00", "until 10:30", "City tax (added)", "35.00 EUR",
      "VAT 10% included", "250.38 EUR", "2789.15 EUR", "Sun 10 Jan 2027, 15:00 (Europe/Paris time)"]),
    ("credit_note", CREDIT_NOTE,
     ["Credit note", "BK7F3K9QX2", "refund-pay_abc123", "Zoë Ångström", "Grand Hôtel Łódź 東京",
      "Cancellation of Double Room (Flexible), 11–18 Jan 2027", "Paid", "1074.15 EUR",
      "Kept under the cancellation policy", "153.45 EUR", "Refunded to VISA •••• 4242", "920.70 EUR",
      "10 January 2027, 15:20 UTC", "Cancellation policy"]),
    ("invoice", INVOICE,
     ["INV-2026-0042", "Zoë Ångström, 東京", "Junior Suite, 3 nights", "450.00 EUR", "37.00 EUR",
      "487.00 EUR", "VAT 10%", "44.27 EUR"]),
])
def test_each_template_prints_its_data_in_a_sound_pdf(template, data, expected):
    document, pdf, path = rendered(template, data)
    text = text_of(pdf)
    for words in expected:
        assert words in text, words
    assert document["pages"] == len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert document["size"] == len(pdf)
    check_structure_and_picture(path)


def test_a_confirmation_of_one_room_keeps_its_single_row_and_the_usual_times():
    _, pdf, _ = rendered("booking_confirmation", CONFIRMATION)
    assert text_of(rendered("booking_confirmation", {**CONFIRMATION, "rooms": []})[1]) == text_of(pdf)
    text = text_of(pdf)
    assert "from 15:00" in text and "until 11:00" in text
    assert "Junior Suite, 2 guests" in text and "Room 1" not in text
    assert "Taxes included" in text and "City tax" not in text and "VAT" not in text
    assert "Free cancellation until 48 hours before check-in" in text


def test_amounts_keep_the_decimals_of_their_currency():
    yen = {**CONFIRMATION_OF_ROOMS, "currency": "JPY", "nightly_price": "12340",
           "rooms": [{"name": "Twin Room (Flexible)", "guests": 2, "nights": 3, "price": "37020"}],
           "city_tax": "600", "taxes": "3365", "total": "37620"}
    text = text_of(rendered("booking_confirmation", yen)[1])
    for words in ("12340 JPY", "37020 JPY", "600 JPY", "3365 JPY", "37620 JPY"):
        assert words in text, words
    assert "12340.00" not in text and "JPY." not in text

    dinars = {**yen, "currency": "BHD", "nightly_price": "12.340",
              "rooms": [{"name": "Twin Room (Flexible)", "guests": 2, "nights": 3, "price": "37.020"}],
              "city_tax": "0.600", "taxes": "3.365", "total": "37.620"}
    text = text_of(rendered("booking_confirmation", dinars)[1])
    for words in ("12.340 BHD", "37.020 BHD", "0.600 BHD", "3.365 BHD", "37.620 BHD"):
        assert words in text, words


def test_a_partial_refund_shows_what_is_not_refunded_now_and_a_card_without_brand():
    note = {**CREDIT_NOTE, "paid": "2789.15", "kept": "0", "card_brand": None, "cancellation_policy": None}
    document, pdf, _ = rendered("credit_note", note)
    text = text_of(pdf)
    assert document["filename"] == "credit-note-refund-pay_abc123.pdf"
    assert "Refunded to card •••• 4242" in text and "920.70 EUR" in text
    assert "Not refunded now" in text and "1868.45 EUR" in text
    assert "Cancellation policy" not in text


def test_the_confirmation_code_scans_as_the_reference():
    _, _, path = rendered("booking_confirmation", CONFIRMATION)
    picture = path.with_name(path.stem + "-scan")
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", str(path), str(picture)],
                   check=True, capture_output=True)
    scanned = subprocess.run(["zbarimg", "--quiet", "--raw", str(picture) + ".png"],
                             check=True, capture_output=True, text=True)
    assert scanned.stdout.strip() == CONFIRMATION["reference"]


def test_the_fonts_that_print_text_are_embedded():
    _, pdf, _ = rendered("booking_confirmation", CONFIRMATION)
    embedded = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (reference.get_object() for reference in page["/Resources"]["/Font"].values()):
            if font["/Subtype"] == "/Type1":
                continue  # reportlab's default Helvetica, declared but printing nothing
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]
            embedded.add(str(font["/BaseFont"]))
    assert any("DejaVuSans" in name for name in embedded), embedded
    assert any("IPA" in name for name in embedded), embedded


def test_a_long_invoice_runs_onto_more_pages():
    many = {**INVOICE, "lines": [{"description": f"Night {n}", "quantity": 1, "unit_price": "99.00"}
                                 for n in range(120)]}
    document, pdf, _ = rendered("invoice", many)
    assert document["pages"] >= 3
    assert "11880.00 EUR" in text_of(pdf)


def test_an_unknown_template_is_a_typed_error():
    with pytest.raises(UnknownTemplate) as refusal:
        rendering.render("letter_to_santa", {})
    assert refusal.value.http_status == 404


def test_bad_data_names_each_field():
    with pytest.raises(ValidationFailed) as refusal:
        rendering.render("booking_confirmation", {**CONFIRMATION, "total": "lots", "currency": "euro",
                                                  "check_in": "tomorrow", "colour": "red"})
    assert set(refusal.value.details) == {"total", "currency", "check_in", "colour"}


@pytest.mark.parametrize("template, data, bad", [
    ("booking_confirmation", {**CONFIRMATION_OF_ROOMS, "currency": "eur", "check_in_time": "3pm",
                              "city_tax": "-1.00", "vat_rate": "ten"}, {"currency", "check_in_time", "city_tax",
                                                                         "vat_rate"}),
    ("booking_confirmation", {**CONFIRMATION_OF_ROOMS, "total": "12.3456",
                              "rooms": [{"name": "Double Room", "guests": 2, "nights": 0, "price": "1.00"}]},
     {"total", "rooms"}),
    ("credit_note", {**CREDIT_NOTE, "currency": "eur", "refund": "-920.70", "card_last4": "42"},
     {"currency", "refund", "card_last4"}),
    ("credit_note", {key: value for key, value in CREDIT_NOTE.items() if key != "refund_id"}, {"refund_id"}),
    ("credit_note", {**CREDIT_NOTE, "refund": "1000.00"}, {"refund"}),  # more than paid less kept
])
def test_bad_data_of_the_new_fields_is_refused_naming_them(template, data, bad):
    with pytest.raises(ValidationFailed) as refusal:
        rendering.render(template, data)
    assert set(refusal.value.details) == bad


def test_a_credit_note_takes_a_datetime_and_defaults_what_was_kept():
    note = {key: value for key, value in CREDIT_NOTE.items() if key not in ("kept", "card_brand", "card_last4")}
    note = {**note, "paid": "920.70", "refunded_at": datetime(2027, 1, 10, 15, 20, tzinfo=UTC)}
    text = text_of(rendered("credit_note", note)[1])
    assert "10 January 2027, 15:20 UTC" in text and "Refunded to the card that paid" in text
    assert "0.00 EUR" in text


def test_templates_describe_their_fields():
    described = {template["name"]: template for template in rendering.describe()}
    assert set(described) == {"booking_confirmation", "payment_receipt", "invoice", "credit_note", "monthly_report"}
    confirmation = {field["name"]: field for field in described["booking_confirmation"]["fields"]}
    assert confirmation["reference"]["required"] and not confirmation["cancellation_policy"]["required"]
    lines = next(field for field in described["invoice"]["fields"] if field["name"] == "lines")
    assert {field["name"] for field in lines["fields"]} == {"description", "quantity", "unit_price"}
    assert not any(confirmation[name]["required"] for name in ("check_in_time", "check_out_time", "rooms", "city_tax",
                                                               "vat_rate"))
    assert {field["name"] for field in confirmation["rooms"]["fields"]} == {"name", "guests", "nights", "price"}
    credit_note = {field["name"]: field["required"] for field in described["credit_note"]["fields"]}
    assert {name for name, required in credit_note.items() if required} == {
        "reference", "refund_id", "guest_name", "hotel_name", "description", "paid", "refund", "currency",
        "refunded_at"}
    monthly = {field["name"]: field["required"] for field in described["monthly_report"]["fields"]}
    assert {name for name, required in monthly.items() if required} == {
        "hotel_id", "hotel_name", "month", "currency", "totals", "room_types", "days"}
    days = next(field for field in described["monthly_report"]["fields"] if field["name"] == "days")
    assert {field["name"] for field in days["fields"]} == {"date", "rooms_available", "rooms_sold", "occupancy",
                                                          "revenue_minor"}
