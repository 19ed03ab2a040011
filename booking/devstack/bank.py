"""The sandbox bank: a stand-in card processor with a Stripe-like HTTP JSON API.

    python -m booking.devstack.bank --host 127.0.0.1 --port 8100 --ledger var/bank.db \\
        [--latency-ms 0] [--failure-rate 0.0] [--charge-delay-ms 0] [--api-key sk_test_booking]

It is the third party that `payments` charges through, run as a process of its own
so that the services speak real HTTP to it and a real bank can replace it by
configuration. Every request carries `Authorization: Bearer <api key>`.

    POST /v1/tokens              {"card": {...}}: a single-use token for 15 minutes
    POST /v1/charges             Idempotency-Key; {"amount", "currency", "source" | "card",
                                 "reference", "description"}: 201, or 402 for a declined card
    GET  /v1/charges/<id>        one charge
    GET  /v1/charges?reference=R the charges made for R, oldest first (also ?idempotency_key=K)
    POST /v1/refunds             Idempotency-Key; {"charge", "amount"?}: 201
    GET  /v1/balance             {"charged", "refunded", "net", "currency"} (?currency=EUR)

Errors are `{"error": {"type", "code", "message", ...}}`. The test cards are those of
`docs/architecture.md` ("Defaults"): 4242424242424242 succeeds, 4000000000000002 is declined,
4000000000009995 is declined for insufficient funds, 4000000000000119 makes the bank
fail (500, nothing recorded); any other valid card succeeds.

Like Stripe, a POST with an `Idempotency-Key` already seen answers the first response
again, exactly, if its body is the same, and 422 if not; a 500 or a refused request is
not remembered. `--failure-rate` answers 503 after a charge or refund is recorded, so
that the caller does not know the outcome and has to settle it with
`GET /v1/charges?idempotency_key=`. `--latency-ms` delays every answer (after the work
is done, so that a caller that times out leaves a charge behind, as a real bank would).
`--charge-delay-ms` delays a charge before it is recorded: a request that timed out
lands after its caller has looked for it and found nothing, as it can with a real bank.

The ledger is an SQLite file. It never holds a card number or a CVC: those live in
memory only, behind a token, until it is used or expires. The log has one line a
request, without card data or tokens.

Only the standard library and werkzeug are imported here: no eventlet, no nameko.
"""
import argparse
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import signal
import socket
import sqlite3
import sys
import threading
import time
import traceback
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_LEDGER = "var/bank.db"
DEFAULT_API_KEY = "sk_test_booking"
# a publishable key may only tokenize cards, as a real processor's: what an
# internet-facing edge holds, so that it cannot charge or refund
DEFAULT_PUBLISHABLE_KEY = "pk_test_booking"
DEFAULT_CURRENCY = "EUR"
TOKEN_LIFETIME_SECONDS = 15 * 60
MAX_BODY_BYTES = 64 * 1024
MAX_AMOUNT = 99_999_999  # minor units, as Stripe
MAX_KEY_LENGTH = 255
MAX_TEXT_LENGTH = 1000
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

SUCCEEDED = "succeeded"
FAILED = "failed"
BANK_FAILS = "processing_error"
# the cards whose outcome is not success (docs/architecture.md, "test cards")
TEST_CARD_OUTCOMES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000119": BANK_FAILS,
}
DECLINE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}
CARD_FIELDS = {"number", "exp_month", "exp_year", "cvc", "holder"}
CHARGE_FIELDS = {"amount", "currency", "source", "card", "description", "reference"}
REFUND_FIELDS = {"charge", "amount"}

INVALID_REQUEST = "invalid_request_error"
API_ERROR = "api_error"

log = logging.getLogger("booking.bank")


class BankError(Exception):
    """An answer other than success: its HTTP status and the Stripe-like error body."""

    def __init__(self, status, type, message, code=None, **extra):
        super().__init__(message)
        self.status = status
        self.error = {"type": type, "code": code, "message": message, **extra}

    def body(self):
        return {"error": {name: value for name, value in self.error.items() if value is not None}}


def invalid(message, code="parameter_invalid", param=None, status=400):
    return BankError(status, INVALID_REQUEST, message, code, param=param)


# --- the rules: cards, outcomes, bodies -------------------------------------------

@dataclass(frozen=True)
class Card:
    # repr=False: a card printed by mistake (a log, a traceback) shows no secret
    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    holder: str

    @property
    def brand(self):
        return brand_of(self.number)

    @property
    def last4(self):
        return self.number[-4:]


def luhn_valid(digits):
    """True if the string of digits passes the Luhn check that every card number does."""
    total = 0
    for position, digit in enumerate(int(character) for character in reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return bool(digits) and total % 10 == 0


def brand_of(number):
    """"visa", "mastercard", "amex" or "other", from the number's first digits."""
    if number.startswith("4"):
        return "visa"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in ("34", "37"):
        return "amex"
    return "other"


def card_number(value):
    """The digits of a card number given with or without spaces; BankError if it is not one."""
    number = value.replace(" ", "") if isinstance(value, str) else ""
    if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19 and luhn_valid(number)):
        raise invalid("The card number is not a valid card number.", "invalid_number", "card[number]")
    return number


def is_expired(exp_month, exp_year, today):
    """True if the card's last month of validity is before `today`'s month."""
    return (exp_year, exp_month) < (today.year, today.month)


def check_card(card, today):
    """The `Card` that the JSON object `card` describes; BankError saying what is wrong."""
    if not isinstance(card, dict):
        raise invalid("The card must be an object.", "parameter_missing", "card")
    only(card, CARD_FIELDS, "card")
    number = card_number(card.get("number"))
    exp_month, exp_year = card.get("exp_month"), card.get("exp_year")
    if not (is_integer(exp_month) and is_integer(exp_year) and 1 <= exp_month <= 12 and 1000 <= exp_year <= 9999):
        raise invalid("The expiry must be a month (1-12) and a four-digit year.", "invalid_expiry", "card[exp_month]")
    if is_expired(exp_month, exp_year, today):
        raise invalid("The card has expired.", "invalid_expiry", "card[exp_year]")
    cvc = card.get("cvc")
    if not (isinstance(cvc, str) and cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
        raise invalid("The CVC must be a string of 3 or 4 digits.", "invalid_cvc", "card[cvc]")
    holder = card.get("holder")
    if not (isinstance(holder, str) and holder.strip()):
        raise invalid("The card holder's name is missing.", "invalid_holder", "card[holder]")
    return Card(number, exp_month, exp_year, cvc, holder.strip())


def outcome_of(number):
    """What charging the card `number` does: SUCCEEDED, a decline code, or BANK_FAILS."""
    return TEST_CARD_OUTCOMES.get(number, SUCCEEDED)


def body_hash(body):
    """A digest of the JSON value `body` that ignores key order and spacing."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def only(body, allowed, prefix=None):
    unknown = sorted(set(body) - allowed)
    if unknown:
        param = f"{prefix}[{unknown[0]}]" if prefix else unknown[0]
        raise invalid(f"Unknown parameter: {param}.", "parameter_unknown", param)


def text(body, name, required=True):
    value = body.get(name)
    if value is None and not required:
        return ""
    if value is None:
        raise invalid(f"Missing required parameter: {name}.", "parameter_missing", name)
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH or (required and not value.strip()):
        raise invalid(f"{name} must be a non-empty string of at most {MAX_TEXT_LENGTH} characters.", param=name)
    return value


def amount_of(body, required=True):
    value = body.get("amount")
    if value is None and not required:
        return None
    if not (is_integer(value) and value > 0):
        raise invalid("amount must be a positive integer, in minor units (cents).", param="amount")
    if value > MAX_AMOUNT:
        raise invalid(f"amount must be at most {MAX_AMOUNT}.", "amount_too_large", "amount")
    return value


def currency_code(body, default=None):
    """The three-letter currency code `body` gives (or `default`), in capitals."""
    currency = body.get("currency", default)
    if not (isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)):
        raise invalid("currency must be a three-letter ISO code.", "invalid_currency", "currency")
    return currency.upper()


@dataclass(frozen=True)
class ChargeOrder:
    amount: int
    currency: str
    reference: str
    description: str
    source: str = None
    card: Card = None


def charge_order(body, today):
    """The charge that the JSON object `body` asks for; BankError if it is not valid."""
    only(body, CHARGE_FIELDS)
    amount = amount_of(body)
    currency = currency_code(body)
    reference, description = text(body, "reference"), text(body, "description", required=False)
    if ("source" in body) == ("card" in body):
        raise invalid("Give either source (a token) or card.", "parameter_missing", "source")
    if "source" in body:
        return ChargeOrder(amount, currency, reference, description, source=text(body, "source"))
    return ChargeOrder(amount, currency, reference, description, card=check_card(body["card"], today))


def refund_order(body):
    """(charge id, amount or None for the rest) from the JSON object `body`."""
    only(body, REFUND_FIELDS)
    return text(body, "charge"), amount_of(body, required=False)


def new_id(prefix):
    return f"{prefix}_{secrets.token_hex(12)}"


def charge_object(row):
    """The API's view of a charge from its ledger row (or a dict with the same names)."""
    return {
        "id": row["id"], "object": "charge", "status": row["status"], "amount": row["amount"],
        "currency": row["currency"], "card": {"brand": row["brand"], "last4": row["last4"]},
        "reference": row["reference"], "description": row["description"], "created": row["created"],
        "refunded_amount": row["refunded_amount"], "failure_code": row["failure_code"],
    }


# --- tokens: card data in memory only ---------------------------------------------

class TokenVault:
    """The card behind each token, in memory only, for one use within `lifetime` seconds."""

    def __init__(self, lifetime=TOKEN_LIFETIME_SECONDS, clock=time.monotonic):
        self.lifetime = lifetime
        self.clock = clock
        self._cards = {}
        self._lock = threading.Lock()

    def keep(self, card):
        """A new token for `card`."""
        token = new_id("tok")
        with self._lock:
            now = self.clock()
            for expired in [key for key, (_, until) in self._cards.items() if until <= now]:
                del self._cards[expired]
            self._cards[token] = (card, now + self.lifetime)
        return token

    def take(self, token):
        """The `Card` behind `token`, which can never be used again; BankError if it is
        unknown, used or expired."""
        with self._lock:
            card, until = self._cards.pop(token, (None, 0))
        if card is None or until <= self.clock():
            raise invalid("No such token: it is unknown, already used or expired.", "invalid_token", "source")
        return card


# --- the ledger ---------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    failure_code TEXT,
    reference TEXT NOT NULL,
    description TEXT NOT NULL,
    created INTEGER NOT NULL,
    refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND amount)
);
CREATE INDEX IF NOT EXISTS charges_by_reference ON charges (reference);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    charge_id TEXT NOT NULL REFERENCES charges (id),
    idempotency_key TEXT NOT NULL UNIQUE,
    amount INTEGER NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    body_hash BLOB NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created INTEGER NOT NULL
);
"""


class Ledger:
    """The SQLite file that keeps charges, refunds and idempotent answers. Each use
    opens a connection of its own, so that the server's threads share nothing."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)

    def _connect(self):
        # autocommit (isolation_level=None): transactions are begun explicitly below
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @contextmanager
    def transaction(self):
        """`Books` in one write transaction, begun IMMEDIATE: it holds the write lock
        from the start, so two requests with one key cannot both find it unused."""
        with closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Books(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def reading(self):
        with closing(self._connect()) as connection:
            yield Books(connection)


class Books:
    """The ledger's queries, on one connection."""

    def __init__(self, connection):
        self.connection = connection

    def _one(self, sql, *args):
        return self.connection.execute(sql, args).fetchone()

    def idempotent_answer(self, key):
        return self._one("SELECT endpoint, body_hash, status, response FROM idempotency WHERE key = ?", key)

    def _insert(self, table, row):
        names = ", ".join(row)
        self.connection.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})",
                                tuple(row.values()))

    def remember(self, key, endpoint, digest, status, response, created):
        self._insert("idempotency", {"key": key, "endpoint": endpoint, "body_hash": digest, "status": status,
                                     "response": response, "created": created})

    def add_charge(self, row):
        self._insert("charges", row)

    def add_refund(self, row):
        self._insert("refunds", row)
        self.connection.execute("UPDATE charges SET refunded_amount = refunded_amount + ? WHERE id = ?",
                                (row["amount"], row["charge_id"]))

    def charge(self, charge_id):
        return self._one("SELECT * FROM charges WHERE id = ?", charge_id)

    def charges_where(self, filters):
        """The charges whose columns equal `filters` ({column: value}), oldest first."""
        where = " AND ".join(f"{column} = ?" for column in filters)
        return self.connection.execute(f"SELECT * FROM charges WHERE {where} ORDER BY rowid",
                                       tuple(filters.values())).fetchall()

    def totals(self, currency):
        """(charged, refunded) in `currency`: succeeded charges, and every refund."""
        return tuple(self._one(
            "SELECT (SELECT COALESCE(SUM(amount), 0) FROM charges WHERE status = 'succeeded' AND currency = ?),"
            " (SELECT COALESCE(SUM(refunds.amount), 0) FROM refunds JOIN charges ON charges.id = refunds.charge_id"
            "  WHERE charges.currency = ?)", currency, currency,
        ))


# --- the HTTP API -------------------------------------------------------------------

class BankRequest(Request):
    max_content_length = MAX_BODY_BYTES


def json_response(status, payload, replayed=False):
    """`payload` (a JSON-able value, or JSON text kept from an earlier answer) as a response."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    response = Response(body, status, mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def json_body(request):
    try:
        body = json.loads(request.get_data() or b"null")
    except (ValueError, RecursionError):
        raise invalid("The body is not valid JSON.", "invalid_json") from None
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.", "invalid_json")
    return body


CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}


def loggable(value, limit=80):
    """`value` (a client's) safe for one log line: a string or a number, control
    characters escaped, long text cut; of anything else only its type."""
    if value is None or not isinstance(value, (str, int)):
        return "-" if value is None else f"<{type(value).__name__}>"
    shown = str(value).translate(CONTROL_CHARACTERS)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def error_response(error):
    """The answer to a request that raised `error`."""
    if isinstance(error, HTTPException):  # no such route or method, a body too large
        error = BankError(error.code, INVALID_REQUEST, error.description)
    elif not isinstance(error, BankError):
        # where it happened, but not the message, which might quote a request's values
        where = "".join(traceback.format_tb(error.__traceback__)).rstrip()
        log.error("Unexpected %s, answered 500:\n%s", type(error).__name__, where)
        error = BankError(500, API_ERROR, "The bank had an internal error.")
    return json_response(error.status, error.body())


class Bank:
    """The WSGI application: the API above, over a `Ledger` and a `TokenVault`."""

    # merge_slashes=False: an odd path is a 404, not a redirect that a JSON client would not follow
    urls = Map(merge_slashes=False, rules=[
        Rule("/v1/tokens", methods=["POST"], endpoint="create_token"),
        Rule("/v1/charges", methods=["POST"], endpoint="create_charge"),
        Rule("/v1/charges", methods=["GET"], endpoint="list_charges"),
        Rule("/v1/charges/<charge_id>", methods=["GET"], endpoint="get_charge"),
        Rule("/v1/refunds", methods=["POST"], endpoint="create_refund"),
        Rule("/v1/balance", methods=["GET"], endpoint="balance"),
    ])

    def __init__(self, ledger, api_key, latency=0.0, failure_rate=0.0, vault=None,
                 clock=time.time, chance=random.random, charge_delay=0.0, publishable_key=DEFAULT_PUBLISHABLE_KEY):
        self.ledger = ledger
        self.api_key = api_key
        self.publishable_key = publishable_key
        self.latency = latency
        self.charge_delay = charge_delay
        self.failure_rate = failure_rate
        self.vault = vault or TokenVault()
        self.clock = clock
        self.chance = chance

    def __call__(self, environ, start_response):
        request = BankRequest(environ)
        notes = {}  # what the log line says of the request, filled in by the handler
        try:
            response = self._dispatch(request, notes)
        except Exception as error:
            response = error_response(error)
        if self.latency:
            time.sleep(self.latency)
        said = "".join(f" {name}={loggable(value)}" for name, value in notes.items())
        log.info("%s %s %s key=%s%s", request.method, loggable(request.path, 120), response.status_code,
                 loggable(request.headers.get("Idempotency-Key")), said)
        return response(environ, start_response)

    def _dispatch(self, request, notes):
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        given = given.strip().encode() if scheme.lower() == "bearer" else b""
        secret = hmac.compare_digest(given, self.api_key.encode())
        publishable = bool(self.publishable_key) and hmac.compare_digest(given, self.publishable_key.encode())
        if not (secret or publishable):
            raise BankError(401, "authentication_error",
                            "Invalid or missing API key: send it as 'Authorization: Bearer <key>'.")
        endpoint, arguments = self.urls.bind_to_environ(request.environ).match()
        if publishable and not secret and endpoint != "create_token":
            raise BankError(403, "permission_error", "A publishable key can only create tokens.")
        return getattr(self, endpoint)(request, notes, **arguments)

    def _today(self):
        return datetime.fromtimestamp(self.clock(), UTC).date()

    def create_token(self, request, notes):
        body = json_body(request)
        only(body, {"card"})
        card = check_card(body.get("card"), self._today())
        return json_response(201, {
            "id": self.vault.keep(card), "object": "token",
            "card": {"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month,
                     "exp_year": card.exp_year},
            "created": int(self.clock()),
        })

    def create_charge(self, request, notes):
        if self.charge_delay:
            time.sleep(self.charge_delay)
        return self._once(request, notes, "charges", self._charge, logged=("reference", "amount"))

    def create_refund(self, request, notes):
        return self._once(request, notes, "refunds", self._refund, logged=("charge", "amount"))

    def _once(self, request, notes, endpoint, perform, logged):
        """Answer the POST with `perform(books, key, body)` -> (status, payload), kept
        under the request's Idempotency-Key, or the answer already kept under it; the
        body's fields named in `logged` go into the log line."""
        body = json_body(request)
        notes.update((name, body.get(name)) for name in logged)
        key = request.headers.get("Idempotency-Key", "")
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise invalid(f"An Idempotency-Key header (1 to {MAX_KEY_LENGTH} characters) is required.",
                          "parameter_missing", "Idempotency-Key")
        digest = body_hash(body)
        with self.ledger.transaction() as books:
            earlier = books.idempotent_answer(key)
            if earlier and (earlier["endpoint"], earlier["body_hash"]) != (endpoint, digest):
                raise BankError(422, "idempotency_error", "This Idempotency-Key was used with another request.")
            if earlier:
                return json_response(earlier["status"], earlier["response"], replayed=True)
            # a BankError from here on rolls back: nothing is recorded, nothing kept
            status, payload = perform(books, key, body)
            response = json.dumps(payload)
            books.remember(key, endpoint, digest, status, response, int(self.clock()))
        if self.failure_rate and self.chance() < self.failure_rate:
            raise BankError(503, API_ERROR, "The bank is unavailable; the outcome of this request is unknown.")
        return json_response(status, response)

    def _charge(self, books, key, body):
        order = charge_order(body, self._today())
        card = self.vault.take(order.source) if order.source else order.card
        outcome = outcome_of(card.number)
        if outcome == BANK_FAILS:
            raise BankError(500, API_ERROR, "The bank could not process the charge; nothing was charged.")
        row = {
            "id": new_id("ch"), "idempotency_key": key, "amount": order.amount, "currency": order.currency,
            "brand": card.brand, "last4": card.last4, "status": SUCCEEDED if outcome == SUCCEEDED else FAILED,
            "failure_code": None if outcome == SUCCEEDED else outcome, "reference": order.reference,
            "description": order.description, "created": int(self.clock()), "refunded_amount": 0,
        }
        books.add_charge(row)
        if outcome == SUCCEEDED:
            return 201, charge_object(row)
        return 402, BankError(402, "card_error", DECLINE_MESSAGES[outcome], outcome, charge=row["id"]).body()

    def _refund(self, books, key, body):
        charge_id, amount = refund_order(body)
        charge = books.charge(charge_id)
        if charge is None:
            raise invalid(f"No such charge: {charge_id}.", "resource_missing", "charge", status=404)
        if charge["status"] != SUCCEEDED:
            raise invalid("A failed charge cannot be refunded.", "charge_not_refundable", "charge")
        rest = charge["amount"] - charge["refunded_amount"]
        if rest == 0:
            raise invalid("The charge has already been refunded in full.", "charge_already_refunded", "charge")
        if amount is not None and amount > rest:
            raise invalid(f"amount is more than the {rest} left to refund.", "amount_too_large", "amount")
        row = {"id": new_id("re"), "charge_id": charge_id, "idempotency_key": key, "amount": amount or rest,
               "status": SUCCEEDED, "created": int(self.clock())}
        books.add_refund(row)
        return 201, {"id": row["id"], "object": "refund", "charge": charge_id, "amount": row["amount"],
                     "status": SUCCEEDED, "created": row["created"]}

    def get_charge(self, request, notes, charge_id):
        with self.ledger.reading() as books:
            charge = books.charge(charge_id)
        if charge is None:
            raise invalid(f"No such charge: {charge_id}.", "resource_missing", "id", status=404)
        return json_response(200, charge_object(charge))

    def list_charges(self, request, notes):
        filters = request.args.to_dict()
        only(filters, {"reference", "idempotency_key"})
        if not filters:
            raise invalid("Give reference or idempotency_key.", "parameter_missing", "reference")
        with self.ledger.reading() as books:
            charges = books.charges_where(filters)
        return json_response(200, {"object": "list", "data": [charge_object(charge) for charge in charges]})

    def balance(self, request, notes):
        only(request.args, {"currency"})
        currency = currency_code(request.args.to_dict(), DEFAULT_CURRENCY)
        with self.ledger.reading() as books:
            charged, refunded = books.totals(currency)
        return json_response(200, {"charged": charged, "refunded": refunded, "net": charged - refunded,
                                   "currency": currency})


# --- the process --------------------------------------------------------------------

class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log: the bank logs each request itself."""

    def log_request(self, code="-", size="-"):
        pass


def listen(host, port):
    """A listening socket on host:port (OSError if the port is taken), bound here
    rather than by werkzeug, which prints several lines and exits on its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128)


def serve(listener, bank):
    """Answer requests on `listener` (a bound socket) with `bank` until SIGTERM or SIGINT,
    which the caller has blocked (see `main`)."""
    host, port = listener.getsockname()[:2]
    server = make_server(host, port, bank, threaded=True, request_handler=QuietRequestHandler,
                         fd=listener.fileno())
    listener.close()  # the server has its own copy of the socket
    thread = threading.Thread(target=server.serve_forever, name="bank-server")
    thread.start()
    log.info("Sandbox bank listening on http://%s:%s, ledger %s", host, port, bank.ledger.path.resolve())
    signal.sigwait(STOP_SIGNALS)
    server.shutdown()
    thread.join()
    log.info("Sandbox bank stopped")


def between(kind, low, high):
    """An argparse type: a `kind` (int or float) from `low` to `high`."""
    def convert(value):
        number = kind(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return number
    convert.__name__ = kind.__name__  # argparse names it in "invalid int value"
    return convert


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m booking.devstack.bank",
        description="The sandbox bank: a Stripe-like card processor for development and tests.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=between(int, 0, 65535), default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--ledger", default=DEFAULT_LEDGER, help="the SQLite file of charges and refunds")
    parser.add_argument("--latency-ms", type=between(int, 0, 600_000), default=0, help="delay every answer this long")
    parser.add_argument("--failure-rate", type=between(float, 0, 1), default=0.0,
                        help="the chance (0-1) of answering 503 after a charge or refund is recorded")
    parser.add_argument("--charge-delay-ms", type=between(int, 0, 600_000), default=0,
                        help="delay each charge this long before recording it (it lands late)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the secret key: every request")
    parser.add_argument("--publishable-key", default=DEFAULT_PUBLISHABLE_KEY,
                        help="the publishable key: creating tokens only")
    args = parser.parse_args(argv)
    if not args.api_key.strip():
        parser.error("--api-key must not be empty")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    try:
        ledger = Ledger(args.ledger)
    except (OSError, sqlite3.Error) as error:
        sys.exit(f"The sandbox bank cannot open its ledger {args.ledger}: {error}")
    # blocked from before the port is open, so that a signal sent as soon as the bank
    # listens waits for `serve` to take it (a handler could come too early, and one
    # that sets a threading.Event can deadlock), and every thread inherits the block
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        listener = listen(args.host, args.port)
    except OSError as error:
        sys.exit(f"The sandbox bank cannot listen on {args.host}:{args.port}: "
                 f"{os.strerror(error.errno) if error.errno else error}")
    bank = Bank(ledger, args.api_key, latency=args.latency_ms / 1000, failure_rate=args.failure_rate,
                charge_delay=args.charge_delay_ms / 1000, publishable_key=args.publishable_key)
    serve(listener, bank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
