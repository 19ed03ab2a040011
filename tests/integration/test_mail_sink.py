"""The mail sink as a real process, and mail sent to it by the `Mailer` dependency
of a service running in a real nameko container.

The service has no AMQP entrypoint (nameko's `dummy` stands in, driven by
`entrypoint_hook`), so these tests need no broker: only the sink's SMTP port.
"""
import signal
import smtplib
import subprocess
import sys
import time

import pytest
from nameko.testing.services import dummy, entrypoint_hook

from booking.devstack.mailsink import read_messages, wait_for_message
from booking.devstack.ports import free_port, is_listening
from booking.kit.mail import Mailer, MailNotSent

PDF = b"%PDF-1.4\n\x00\xff a confirmation"
START_TIMEOUT_SECONDS = 15


class MailingService:
    name = "mailing"
    mailer = Mailer()

    @dummy
    def send(self, *args, **kwargs):
        return self.mailer.send(*args, **kwargs)


class Sink:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.maildir = tmp_path / "mail"
        self.log = tmp_path / "mailsink.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "booking.devstack.mailsink",
                 "--port", str(self.port), "--maildir", str(self.maildir)],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_until_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not is_listening("127.0.0.1", self.port):
            assert self.process.poll() is None, f"the sink exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"the sink did not listen:\n{self.log.read_text()}"
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def sink(tmp_path):
    sink = Sink(tmp_path)
    try:
        sink.wait_until_listening()
        yield sink
    finally:
        sink.stop()


def mailing_container(container_factory, port, **config):
    container = container_factory(MailingService, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, **config})
    container.start()
    return container


@pytest.mark.parametrize("login", [{}, {"SMTP_USERNAME": "booking", "SMTP_PASSWORD": "secret"}],
                         ids=["anonymous", "with-login"])
def test_a_message_sent_by_the_mailer_arrives_whole(container_factory, sink, login):
    container = mailing_container(container_factory, sink.port, **login)

    with entrypoint_hook(container, "send") as send:
        message_id = send(
            "Zoë Ångström <zoe@example.com>", "Your stay in Łódź",
            "Dear Zoë, your room is booked.", "<p>Dear Zoë, your room is <b>booked</b>.</p>",
            attachments=[("confirmation.pdf", PDF, "application/pdf")],
        )
    message = wait_for_message(sink.maildir, lambda message: message["Message-ID"] == message_id)

    assert message["Subject"] == "Your stay in Łódź"
    assert message["From"] == "Booking <no-reply@booking.local>"
    assert message["X-Envelope-To"] == "<zoe@example.com>"
    assert message.get_body(("plain",)).get_content().strip() == "Dear Zoë, your room is booked."
    assert message.get_body(("html",)).get_content().strip() == "<p>Dear Zoë, your room is <b>booked</b>.</p>"
    [attachment] = message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content()) == ("confirmation.pdf", PDF)
    assert "from='no-reply@booking.local' to=['zoe@example.com'] subject='Your stay in Łódź'" in (
        sink.log.read_text(encoding="utf-8"))


def test_messages_are_read_back_in_the_order_they_arrived(container_factory, sink):
    container = mailing_container(container_factory, sink.port)

    with entrypoint_hook(container, "send") as send:
        for number in range(3):
            send("guest@example.com", f"Message {number}", "text", "<p>html</p>")
    wait_for_message(sink.maildir, lambda message: message["Subject"] == "Message 2")

    assert [message["Subject"] for message in read_messages(sink.maildir)] == [
        "Message 0", "Message 1", "Message 2"]
    assert all(path.suffix == ".eml" for path in sink.maildir.iterdir())  # no temporary file left


def test_odd_input_is_refused_or_kept_and_the_sink_goes_on(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
        smtp.ehlo()
        assert smtp.docmd("NONSENSE")[0] // 100 == 5
        assert smtp.docmd("RCPT TO:<before-mail-from@example.com>")[0] // 100 == 5
        smtp.sock.sendall(b"\xff\xfe" * 1000 + b"\r\n")
        assert smtp.getreply()[0] // 100 == 5
        smtp.sendmail("", ["anyone@anywhere.invalid", "x@y"], b"\xff not a header\r\n\x00\x01\r\n")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
        smtp.sendmail("a@example.com", ["b@example.com"], b"Subject: still here\r\n\r\nbody\r\n")

    assert wait_for_message(sink.maildir, lambda message: message["Subject"] == "still here")
    assert len(read_messages(sink.maildir)) == 2
    assert sink.process.poll() is None


def test_waiting_for_a_message_that_never_comes_says_what_did(sink):
    with pytest.raises(TimeoutError, match=r"within 0.3 s; the 0 there"):
        wait_for_message(sink.maildir, lambda message: True, timeout=0.3)


def test_sigterm_stops_the_sink_promptly_and_cleanly(sink):
    sink.process.send_signal(signal.SIGTERM)

    assert sink.process.wait(timeout=5) == 0
    assert not is_listening("127.0.0.1", sink.port)
    assert "Mail sink stopped" in sink.log.read_text()


def test_sending_where_nothing_listens_is_mail_not_sent(container_factory):
    port = free_port()
    container = mailing_container(container_factory, port, SMTP_TIMEOUT=2)

    with entrypoint_hook(container, "send") as send, pytest.raises(MailNotSent) as raised:
        send("guest@example.com", "Lost", "text", "<p>html</p>")

    assert f"127.0.0.1:{port}" in raised.value.message
    assert "ConnectionRefusedError" in raised.value.message
