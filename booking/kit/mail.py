"""Sending e-mail over real SMTP, as a nameko dependency provider.

    mailer = Mailer()
    ...
    self.mailer.send("Zoë Ångström <zoe@example.com>", "Your booking", text, html,
                     attachments=[("confirmation.pdf", pdf_bytes, "application/pdf")])

`Mailer` reads the SMTP server from the config (`SMTP_HOST`, `SMTP_PORT`,
`SMTP_STARTTLS`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_TIMEOUT`, `MAIL_FROM`); on
one machine that is the sink in `booking.devstack.mailsink`, which keeps every
message as a file. smtplib is plain blocking socket code, which under nameko's
eventlet monkey-patching yields to other workers while it waits on the server.

A failure to deliver is the typed `MailNotSent` (503), whose message names the
server and the reason and never the credentials; nothing here logs a body or the
password.
"""
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from nameko.extensions import DependencyProvider
from sqlalchemy import and_, or_, update

from booking.kit.errors import BookingError

DEFAULT_SENDER = "Booking <no-reply@booking.local>"
# longer than sending an e-mail takes: a claim this old lost its worker
CLAIM_LEASE_SECONDS = 60

log = logging.getLogger(__name__)


class MailNotSent(BookingError):
    code = "MAIL_NOT_SENT"
    http_status = 503
    default_message = "The e-mail could not be sent right now"


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 8025
    starttls: bool = False
    username: str = None
    password: str = field(default=None, repr=False)  # kept out of any repr that is logged
    timeout: float = 10
    sender: str = DEFAULT_SENDER

    @classmethod
    def from_config(cls, config):
        defaults = cls()
        return cls(
            host=config.get("SMTP_HOST") or defaults.host,
            port=int(config.get("SMTP_PORT") or defaults.port),
            starttls=flag(config.get("SMTP_STARTTLS", defaults.starttls)),
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            timeout=float(config.get("SMTP_TIMEOUT") or defaults.timeout),
            sender=config.get("MAIL_FROM") or defaults.sender,
        )


def flag(value):
    """A config boolean: YAML gives True/False, an environment variable a string."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def build_message(sender, to, subject, text, html, attachments=(), key=None):
    """A message with a plain-text part, its HTML alternative and the attachments,
    each `(filename, content_bytes, mime_type)`. `to` is one address or a list.
    `key` ("receipt-<payment id>") makes the Message-ID: a message sent again after
    its sender died half-way is then the same message, and mail clients show it once.

    Every part is 7-bit (quoted-printable text, base64 attachments, encoded
    non-ASCII headers and file names), so any SMTP server carries it unchanged.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to if isinstance(to, str) else ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # the sender's domain, not socket.getfqdn(), which may wait on DNS
    domain = parseaddr(sender)[1].rpartition("@")[2] or "booking.local"
    message["Message-ID"] = f"<{key}@{domain}>" if key else make_msgid(domain=domain)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    for filename, content, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename)
    return message


def deliver(message, settings):
    """Hand `message` to the SMTP server, or raise `MailNotSent`.

    One connection per message: simple and correct (no connection shared between
    workers, none left half-open by a server that timed it out); a service that
    sends in bulk would want a pool.
    """
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError, UnicodeError) as error:
        reason = describe(error)
        log.warning("Mail %s to %s not sent via %s:%s: %s",
                    message["Message-ID"], message["To"], settings.host, settings.port, reason)
        raise MailNotSent(
            f"The e-mail could not be sent through {settings.host}:{settings.port}: {reason}",
            details={"message_id": str(message["Message-ID"])},
        ) from None  # the reason says enough; the original may quote what the server was sent
    log.info("Mail %s to %s sent via %s:%s", message["Message-ID"], message["To"],
             settings.host, settings.port, extra={"peer": "smtp", "subject": message["Subject"]})


def describe(error):
    """Why sending failed, in words that carry no credentials: a server's reply is
    reduced to its code, since a server may echo what it was sent."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} (SMTP {error.smtp_code})"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return f"{type(error).__name__} ({', '.join(sorted(error.recipients))})"
    if isinstance(error, UnicodeError):
        # smtplib sends credentials as ASCII; the error would quote a character of them
        return f"{type(error).__name__} (the credentials or an address are not ASCII)"
    return f"{type(error).__name__}: {error}"


class Mail:
    """What a worker gets: `send(...)` builds one message and delivers it."""

    def __init__(self, settings):
        self.settings = settings

    def send(self, to, subject, text, html, attachments=(), key=None):
        """Send to `to` (an address or a list); returns the Message-ID (made of
        `key`, if given: see `build_message`)."""
        message = build_message(self.settings.sender, to, subject, text, html, attachments, key)
        deliver(message, self.settings)
        return str(message["Message-ID"])


class Mailer(DependencyProvider):
    """The service's outgoing mail: `self.mailer.send(to, subject, text, html, attachments)`."""

    def setup(self):
        self.mail = Mail(SmtpSettings.from_config(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.mail


def due_to_send(sent_at, claimed_at):
    """SQL condition on a kept e-mail's `sent_at` and `claimed_at` columns: not sent,
    and not claimed by a live worker."""
    lease = datetime.now(UTC) - timedelta(seconds=CLAIM_LEASE_SECONDS)
    return and_(sent_at.is_(None), or_(claimed_at.is_(None), claimed_at < lease))


class KeptMail:
    """One rule for an e-mail kept until it is sent, whichever table keeps it (users'
    e-mails, payments' receipts): a worker claims it (a conditional UPDATE: not sent,
    not claimed by a live worker), sends it, then marks it sent, or gives the claim
    back if it did not go; each service's sweep sends what is due. Giving back and
    marking are fenced by the claim the worker holds (`WHERE claimed_at = mine`), so
    a worker whose lease ran out cannot clear or mark a newer worker's claim.

        RECEIPTS = KeptMail(Payment.id, Payment.receipt_sent_at, Payment.receipt_claimed_at)
        mine = RECEIPTS.claim(session, payment_id)       # None: sent, or being sent
        ... send ...
        RECEIPTS.mark_sent(session, payment_id, mine)    # or give_back(session, payment_id, mine)
    """

    def __init__(self, key, sent_at, claimed_at, *also_due):
        self.key, self.sent_at, self.claimed_at, self.also_due = key, sent_at, claimed_at, also_due
        self.table = key.class_

    def due(self):
        """SQL condition: kept, not sent, and not claimed by a live worker."""
        return and_(*self.also_due, due_to_send(self.sent_at, self.claimed_at))

    def claim(self, session, key, now=None):
        """The claim (its time) if this worker got it, None otherwise."""
        mine = now or datetime.now(UTC)
        claimed = session.execute(update(self.table).where(self.key == key, self.due())
                                  .values({self.claimed_at: mine})).rowcount
        return mine if claimed else None

    def give_back(self, session, key, mine):
        session.execute(update(self.table).where(self.key == key, self.claimed_at == mine)
                        .values({self.claimed_at: None}))

    def mark_sent(self, session, key, mine, sent_at=None):
        """True if this worker's claim was still its own, and is now marked sent."""
        return bool(session.execute(update(self.table).where(self.key == key, self.claimed_at == mine)
                                    .values({self.sent_at: sent_at or datetime.now(UTC)})).rowcount)
