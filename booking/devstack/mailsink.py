"""A local SMTP sink: every message it receives lands as one `.eml` file in a folder.

    python -m booking.devstack.mailsink --host 127.0.0.1 --port 8025 --maildir var/mail

It stands in for a mail server on one machine, so that the services send real SMTP
(through `booking.kit.mail.Mailer`) and a test, or a person, reads what was sent.
It accepts any sender, any recipient and any login, relays nothing, and answers odd
input with an SMTP error rather than stopping. Files are named by arrival time
(`20261122T001500.123456Z-<uuid>.eml`), so sorting them by name sorts them by
arrival, and each is written under a temporary name first and then renamed, so a
reader never sees half a message.

`read_messages` and `wait_for_message` read the folder back.

The sink is asyncio (aiosmtpd): it must not import eventlet or nameko, whose
monkey-patching would change the event loop under it; only the standard library
and aiosmtpd are imported here.
"""
import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025
DEFAULT_MAILDIR = "var/mail"
SUFFIX = ".eml"
POLL_SECONDS = 0.1

log = logging.getLogger("booking.mailsink")


class Maildir:
    """Writes each message atomically, named so that names sort by arrival."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.last_arrival = None

    def _arrival(self):
        # one microsecond past the last name if the clock stalls or steps back,
        # so that two messages never sort the wrong way round
        now = datetime.now(UTC)
        if self.last_arrival and now <= self.last_arrival:
            now = self.last_arrival + timedelta(microseconds=1)
        self.last_arrival = now
        return now

    def write(self, content):
        name = f"{self._arrival():%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4()}{SUFFIX}"
        # the temporary name does not end in .eml: readers pass it over
        temporary = self.path / f".{name}.tmp"
        with open(temporary, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path / name)
        return self.path / name


class SinkHandler:
    """aiosmtpd's handler: keep every message, whoever it is from or for (with no
    `handle_RCPT`, aiosmtpd accepts every recipient)."""

    def __init__(self, maildir):
        self.maildir = maildir

    async def handle_DATA(self, server, session, envelope):
        try:
            path = self.maildir.write(with_envelope(envelope))
        except Exception:
            log.exception("Could not store a message from %r", envelope.mail_from)
            return "451 Requested action aborted: could not store the message"
        log.info("from=%r to=%r subject=%r (%s)",
                 envelope.mail_from, envelope.rcpt_tos, subject_of(envelope.content), path.name)
        return "250 Message accepted for delivery"


def with_envelope(envelope):
    """The message as received, after two headers that keep the SMTP envelope
    (which says who it was really for: a Bcc recipient is in no header)."""
    recipients = ", ".join(f"<{address}>" for address in envelope.rcpt_tos)
    lines = [f"X-Envelope-From: <{envelope.mail_from or ''}>", f"X-Envelope-To: {recipients}"]
    # an address is one line of an SMTP command, but a stray CR must not end the header
    header = "".join(line.replace("\r", "").replace("\n", "") + "\r\n" for line in lines)
    header = header.encode("utf-8", "surrogateescape")
    return header + (envelope.original_content or envelope.content or b"")


def subject_of(content):
    try:
        return str(BytesParser(policy=policy.default).parsebytes(content, headersonly=True)["Subject"] or "")
    except Exception:  # a subject too odd to parse still leaves the message stored
        return "(unreadable subject)"


def accept_any_login(server, session, envelope, mechanism, auth_data):
    """A client configured with SMTP_USERNAME/SMTP_PASSWORD works against the sink too."""
    return AuthResult(success=True)


async def serve(host, port, maildir):
    """Accept mail into `maildir` (a `Maildir`) until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    handler = SinkHandler(maildir)
    try:
        server = await loop.create_server(
            # a hostname given spares a DNS lookup (socket.getfqdn) on every connection
            lambda: SMTP(
                handler, hostname="mailsink.booking.local", enable_SMTPUTF8=True,
                authenticator=accept_any_login, auth_require_tls=False,
            ),
            host, port,
        )
    except OSError as error:
        raise SystemExit(f"The mail sink cannot listen on {host}:{port}: {error.strerror or error}") from None
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("Mail sink listening on %s:%s, writing to %s", host, port, maildir.path.resolve())
    async with server:
        await stop.wait()
    log.info("Mail sink stopped")


def read_messages(maildir):
    """Every message in `maildir`, oldest first, as `email.message.EmailMessage`."""
    return [_read(path) for path in _paths(maildir)]


def wait_for_message(maildir, predicate, timeout=10):
    """The first message (oldest first) for which `predicate(message)` is true,
    waiting up to `timeout` seconds for it to arrive; `TimeoutError` if none does."""
    deadline = time.monotonic() + timeout
    seen = {}
    while True:
        for path in _paths(maildir):
            if path not in seen:
                seen[path] = _read(path)
                if predicate(seen[path]):
                    return seen[path]
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    subjects = [str(message["Subject"]) for message in seen.values()]
    raise TimeoutError(
        f"No matching message arrived in {maildir} within {timeout} s; "
        f"the {len(subjects)} there have the subjects {subjects[-10:]!r}"
        + (" (the last 10)" if len(subjects) > 10 else "")
    )


def _paths(maildir):
    folder = Path(maildir)
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def _read(path):
    with open(path, "rb") as stream:
        return BytesParser(policy=policy.default).parse(stream)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m booking.devstack.mailsink",
        description="A local SMTP sink: every message received is kept as an .eml file.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--maildir", default=DEFAULT_MAILDIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    # aiosmtpd's own log says several lines for every connection, and warns on
    # every login that an attribute it sets itself is deprecated
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    try:
        maildir = Maildir(args.maildir)
    except OSError as error:
        sys.exit(f"The mail sink cannot write to {args.maildir}: {error.strerror or error}")
    asyncio.run(serve(args.host, args.port, maildir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
