"""The document templates rendered for real: the text a reader extracts, the file's
structure (qpdf), and page 1 as a picture (kept under var/test/artifacts/)."""
import base64
import io
import subprocess

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


def test_templates_describe_their_fields():
    described = {template["name"]: template for template in rendering.describe()}
    assert set(described) == {"booking_confirmation", "payment_receipt", "invoice"}
    confirmation = {field["name"]: field for field in described["booking_confirmation"]["fields"]}
    assert confirmation["reference"]["required"] and not confirmation["cancellation_policy"]["required"]
    lines = next(field for field in described["invoice"]["fields"] if field["name"] == "lines")
    assert {field["name"] for field in lines["fields"]} == {"description", "quantity", "unit_price"}
