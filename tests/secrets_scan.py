"""Looking for secrets where none may be: a canary card number (however it is
spaced), CVC and password, and any other card number (the Luhn scan), in what
logs, databases, broker messages and e-mails hold.

Each reader gives `(where, text)` pairs. Bytes are read as Latin-1, one character
per byte, so that any file, text or binary, can be searched. Files as stored
(`*_files`) are searched for the canaries only: their structure is full of numbers
of no card (below); what they hold, read apart (`*_texts`), gets the Luhn scan too.
"""
import base64
import re
import sqlite3
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import MetaData

from booking.kit.database import create_db_engine
from booking.payments.schemas import luhn_valid
from tests.integration.test_booking_saga import pdf_text

CONTEXT = 40
# Digits that stand alone: not part of a longer word, hex string, decimal or
# dotted identifier (a UUID, a Message-ID's random part), where numbers of no card
# turn up by chance; as a card is written, in groups split by single spaces or dashes.
STANDING_ALONE = re.compile(r"(?<![\w.@/+-])\d++(?:[ -]\d++)*+(?![\w@/+-]|\.\d)")
# a card number's first digit: a card network's (ISO/IEC 7812: 3-6, and
# Mastercard's 2221-2720); other runs of digits are dates, ids and amounts
ISSUER_DIGITS = "23456"
PDF_BASE64 = "JVBERi0"  # "%PDF-"
BLOB = re.compile(r"X'([0-9A-Fa-f]*)'")  # a BLOB in an SQL dump


class Canaries:
    def __init__(self, card_number, cvc, password):
        separator = r"(?:[ +-]|%20)?"  # as typed, or URL-encoded from a form
        self.patterns = {
            "card number": re.compile(separator.join(card_number)),
            # a whole token: not inside a longer number, a word, a decimal fraction
            # or a UUID's dashed group, where four digits turn up by chance
            "CVC": re.compile(rf"(?<![\w.-]){cvc}(?![\w-])"),
            "password": re.compile(re.escape(password)),
        }

    def findings(self, where, text, luhn=True):
        """What `text` shows that it must not: ["<where>: <what> in '…context…'"]."""
        found = [(what, match.start(), match.end())
                 for what, pattern in self.patterns.items() for match in pattern.finditer(text)]
        if luhn:
            found += [("Luhn-valid number", start, end) for start, end in card_numbers(text)]
        return [f"{where}: {what} in {text[max(0, start - CONTEXT):end + CONTEXT]!r}"
                for what, start, end in found]


def card_numbers(text):
    """(start, end) of each number in `text` that may be a card's: 13 to 19 digits
    that pass the Luhn check and begin as a card network's do, in one run or in
    consecutive groups of 3 to 6 (4-4-4-4, Amex's 4-6-5) that stand alone."""
    for run in STANDING_ALONE.finditer(text):
        groups = [(run.start() + group.start(), run.start() + group.end())
                  for group in re.finditer(r"\d+", run.group())]
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                window = groups[first:last + 1]
                digits = "".join(text[start:end] for start, end in window)
                if len(digits) > 19:
                    break
                grouped_as_cards_are = len(window) == 1 or all(3 <= end - start <= 6 for start, end in window)
                if (len(digits) >= 13 and grouped_as_cards_are and digits[0] in ISSUER_DIGITS
                        and luhn_valid(digits)):
                    yield window[0][0], window[-1][1]


def latin1(data):
    return data.decode("latin-1") if isinstance(data, bytes) else str(data)


def readable(data):
    """Bytes as text to search: a PDF's printed text, anything else byte for byte."""
    return pdf_text(data) if data.startswith(b"%PDF-") else latin1(data)


def sqlite_files(folder):
    """Every SQLite file under `folder` byte for byte, its -wal and -shm files too.
    SQLite writes a row's values one after the other with nothing between them, so
    two dates make '2026-12-222026-12-24': `sqlite_texts` gives each value apart."""
    for path in sorted(Path(folder).rglob("*.db*")):
        yield str(path), latin1(path.read_bytes())


def sqlite_texts(folder):
    """Each SQLite database under `folder` as the SQL that would make it again
    (sqlite3's iterdump), a BLOB as its text (a PDF's printed text)."""
    for path in sorted(Path(folder).rglob("*.db")):
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dump = "\n".join(connection.iterdump())
        connection.close()
        yield f"{path} (dump)", BLOB.sub(lambda blob: readable(bytes.fromhex(blob.group(1))), dump)


def database_text(uri):
    """Every row of every table of the database at `uri` (a PostgreSQL database has
    no file of its own to read)."""
    engine = create_db_engine(uri)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        rows = [repr([readable(value) if isinstance(value, bytes) else value for value in row])
                for table in tables.sorted_tables for row in connection.execute(table.select())]
    engine.dispose()
    return f"{uri} (rows)", "\n".join(rows)


def broker_texts(messages):
    """Each message copied by RabbitMQ's firehose: its headers (the original's
    properties and headers among them), its body, and the text of any PDF in it."""
    for number, message in enumerate(messages):
        where = f"broker message {number} ({message.delivery_info['routing_key']} {message.headers['routing_keys']})"
        body = latin1(message.body)
        yield where, f"{message.headers!r}\n{body}"
        for pdf in re.findall(rf"{PDF_BASE64}[A-Za-z0-9+/=]+", body):
            yield f"{where}, its PDF", pdf_text(base64.b64decode(pdf))


def mail_files(maildir):
    """Each e-mail the sink kept as stored, and each attachment as sent. MIME
    boundaries, Message-IDs and a PDF's cross-reference table are random or
    counting numbers of up to 20 digits: `mail_texts` gives what they frame."""
    for path, message in _mails(maildir):
        yield path.name, latin1(path.read_bytes())
        for attachment in message.iter_attachments():
            yield f"{path.name}, {attachment.get_filename()} as sent", latin1(attachment.get_content())


def mail_texts(maildir):
    """Each e-mail's headers (but its Message-ID and MIME boundary) and each of its
    parts decoded: text, HTML, and the printed text of a PDF attachment."""
    for path, message in _mails(maildir):
        yield f"{path.name} headers", "\n".join(f"{name}: {value}" for name, value in message.items()
                                                if name not in ("Message-ID", "Content-Type"))
        for part in message.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            yield f"{path.name}, {part.get_filename() or part.get_content_type()}", (
                pdf_text(content) if part.get_content_type() == "application/pdf" else content)


def _mails(maildir):
    for path in sorted(Path(maildir).glob("*.eml")):
        yield path, BytesParser(policy=policy.default).parsebytes(path.read_bytes())
