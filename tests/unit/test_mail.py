"""Building a message and reporting a failed send, with no SMTP server: the
network is replaced by a stand-in for smtplib.SMTP."""
import logging
import smtplib
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest

from booking.kit import mail
from booking.kit.errors import BookingError
from booking.kit.mail import DEFAULT_SENDER, MailNotSent, SmtpSettings, build_message, deliver

PDF = b"%PDF-1.4\n\x00\xff binary \r\n bytes"
PASSWORD = "s3crét-hunter2"


def confirmation(to="Zoë Ångström <zoe@example.com>", subject="Your stay in Łódź"):
    return build_message(
        DEFAULT_SENDER, to, subject,
        "Dear Zoë,\nyour room in Łódź is booked.",
        "<p>Dear Zoë,</p><p>your room in <b>Łódź</b> is booked.</p>",
        attachments=[("confirmation Łódź.pdf", PDF, "application/pdf")],
    )


def as_received(message):
    """The message as a mail server would store it, parsed back."""
    return BytesParser(policy=policy.default).parsebytes(message.as_bytes())


def test_a_message_has_text_an_html_alternative_and_the_attachment():
    message = as_received(confirmation())

    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content().startswith("Dear Zoë,\n")
    assert "<b>Łódź</b>" in message.get_body(("html",)).get_content()
    alternative = message.get_payload()[0]
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    [attachment] = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_non_ascii_names_subjects_and_file_names_survive_in_7_bit():
    raw = confirmation().as_bytes()
    message = as_received(confirmation())

    raw.decode("ascii")  # any SMTP server carries it unchanged
    assert message["Subject"] == "Your stay in Łódź"
    [address] = message["To"].addresses
    assert (address.display_name, address.addr_spec) == ("Zoë Ångström", "zoe@example.com")
    assert next(message.iter_attachments()).get_filename() == "confirmation Łódź.pdf"


def test_date_message_id_and_several_recipients():
    message = as_received(confirmation(to=["a@example.com", "B <b@example.com>"]))

    assert message["From"] == DEFAULT_SENDER
    assert [a.addr_spec for a in message["To"].addresses] == ["a@example.com", "b@example.com"]
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@booking.local>")


def test_settings_from_config_with_defaults_and_an_environment_flag():
    assert SmtpSettings.from_config({}) == SmtpSettings(
        host="localhost", port=8025, starttls=False, username=None, password=None, timeout=10,
        sender="Booking <no-reply@booking.local>",
    )
    settings = SmtpSettings.from_config({
        "SMTP_HOST": "smtp.example.com", "SMTP_PORT": "587", "SMTP_STARTTLS": "true",
        "SMTP_USERNAME": "booking", "SMTP_PASSWORD": PASSWORD, "SMTP_TIMEOUT": "2.5",
        "MAIL_FROM": "Hotels <hotels@example.com>",
    })
    assert (settings.port, settings.starttls, settings.timeout) == (587, True, 2.5)
    assert PASSWORD not in repr(settings)


class RefusingServer:
    """Stands in for smtplib.SMTP: accepts the connection, then fails at login the
    way the given function says (`smtplib` receives the password there)."""

    def __init__(self, fail):
        self.fail = fail

    def __call__(self, host, port, timeout):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def starttls(self, context):
        pass

    def login(self, username, password):
        self.fail(username, password)

    def send_message(self, message):
        raise AssertionError("login failed: nothing is sent")


def echo_password(username, password):
    # a server that quotes what it was sent in its reply
    raise smtplib.SMTPAuthenticationError(535, f"5.7.8 bad credentials {username} {password}".encode())


def ascii_only(username, password):
    # what smtplib itself does with a non-ASCII password
    f"\0{username}\0{password}".encode("ascii")


@pytest.mark.parametrize("fail", [echo_password, ascii_only])
def test_a_failed_send_is_mail_not_sent_and_never_shows_the_password(monkeypatch, caplog, fail):
    monkeypatch.setattr(mail.smtplib, "SMTP", RefusingServer(fail))
    settings = SmtpSettings(host="smtp.example.com", port=587, starttls=True,
                            username="booking", password=PASSWORD)

    with caplog.at_level(logging.DEBUG), pytest.raises(MailNotSent) as raised:
        deliver(confirmation(), settings)

    error = raised.value
    assert isinstance(error, BookingError)
    assert (error.code, error.http_status) == ("MAIL_NOT_SENT", 503)
    assert "smtp.example.com:587" in error.message
    assert error.__cause__ is None and error.__suppress_context__
    for text in (str(error), repr(error.args), error.to_dict().__repr__(), caplog.text):
        assert PASSWORD not in text
    assert "Dear Zo" not in caplog.text  # nor the body


def kept_receipt(tmp_path):
    """A payments database holding one paid payment whose receipt is due."""
    from sqlalchemy.orm import Session

    from booking.payments.models import Payment
    from booking.payments.service import RECEIPTS
    from tests.unit.test_holds import migrated_engine

    engine = migrated_engine(tmp_path, "payments")
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(Payment(id="pay_1", idempotency_key="k", request_hash="h", reservation_id="BK1", user_id=1,
                            amount_minor=100, currency="EUR", card_brand="visa", card_last4="4242",
                            status="succeeded", refunded_minor=0, created_at=now, updated_at=now))
    return engine, RECEIPTS, Payment


def test_a_worker_whose_claim_lapsed_can_neither_clear_nor_mark_the_newer_claim(tmp_path):
    from sqlalchemy.orm import Session

    engine, receipts, payment = kept_receipt(tmp_path)
    lapsed = datetime.now(UTC) - timedelta(seconds=mail.CLAIM_LEASE_SECONDS + 5)
    with Session(engine) as session, session.begin():
        first = receipts.claim(session, "pay_1", now=lapsed)  # a slow worker, whose lease ran out
    with Session(engine) as session, session.begin():
        second = receipts.claim(session, "pay_1")  # so another takes the e-mail over
        assert first and second and receipts.claim(session, "pay_1") is None
    with Session(engine) as session, session.begin():
        receipts.give_back(session, "pay_1", first)  # the first one's send failed late
        assert receipts.mark_sent(session, "pay_1", first) is False
    with Session(engine) as session, session.begin():
        assert receipts.claim(session, "pay_1") is None  # still the second's: no third sender
        assert receipts.mark_sent(session, "pay_1", second) is True
    with Session(engine) as session:
        kept = session.get(payment, "pay_1")
        assert kept.receipt_sent_at is not None
    engine.dispose()
