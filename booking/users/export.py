"""A guest's data, taken away: one ZIP of JSON files and PDFs (a plain function).

    README.txt               what each file is
    account.json             the account (never its password or its hash)
    emails.json              the e-mails Booking sent to the account: kind, address, when
    reservations.json        every reservation, as the API shows it
    payments.json            every payment and refund (a card's brand and last four digits only)
    confirmations/<ref>.pdf  each booking's confirmation

Each service gives its part (users the account and e-mails, reservations the
bookings and their PDFs, payments the payments); users puts them together.
"""
import base64
import io
import json
import zipfile

README = """Your data at Booking, as of {made_at} (UTC).

account.json        your account: name, e-mail address, role, when it was made and verified
emails.json         the e-mails we sent you: what each was about, to which address, when
reservations.json   every reservation you made, with its rooms, prices, policy and status
payments.json       every payment and refund; of a card, only its brand and last four digits
confirmations/      each booking's confirmation, as a PDF

The files are JSON (https://www.json.org), readable by any program. Write to us if
anything is missing or wrong.
"""


def build(account, emails, reservations, payments, made_at):
    """The ZIP's bytes. `reservations` is reservations' part: {"reservations": [...],
    "confirmations": {reference: PDF as base64}}; `payments` is payments' part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(made_at=made_at.isoformat(timespec="seconds")))
        for name, content in (("account.json", account), ("emails.json", emails),
                              ("reservations.json", reservations["reservations"]), ("payments.json", payments)):
            archive.writestr(name, json.dumps(content, indent=2, ensure_ascii=False, default=str))
        for reference, pdf in sorted(reservations["confirmations"].items()):
            archive.writestr(f"confirmations/{reference}.pdf", base64.b64decode(pdf))
    return buffer.getvalue()
