"""The bank, a third party reached only over HTTP (the sandbox bank by default;
a real one by configuration: BANK_URL, BANK_API_KEY, BANK_TIMEOUT).

Every charge and refund carries an Idempotency-Key, so sending one again after a
timeout can never take the money twice; a timeout, a refused connection or a 5xx
is `BankUnavailable`: the outcome is unknown and must be settled by looking the
charge up under its key.

Two services reach the bank: payments charges and refunds, and the gateway has it
tokenize a card at the edge, so that no card number goes further. Its two errors
are published by payments (`booking.payments.exceptions`) as well.
"""
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from nameko.extensions import DependencyProvider

from booking.kit.errors import BookingError, ServiceUnavailable

log = logging.getLogger(__name__)

# the most one charge may take, in minor units of any currency: the bank's limit
# (Stripe's, which the sandbox bank keeps); search sells no stay that costs more
MAX_CHARGE_MINOR = 99_999_999


class BankUnavailable(ServiceUnavailable):
    """The bank did not answer, or answered 5xx: the outcome of the call is unknown."""

    code = "BANK_UNAVAILABLE"
    default_message = "The bank is not answering right now"


class BankTimedOut(BankUnavailable):
    """No answer at all (a timeout, a refused connection): unlike an answered 5xx,
    the request may still reach the bank later."""


class CardRefused(BookingError):
    """The bank refused the card details themselves (not a decline)."""

    code = "CARD_INVALID"
    http_status = 400
    default_message = "The card details are not valid"


@dataclass(frozen=True)
class Charge:
    status: str  # "succeeded" or "declined"
    charge_id: str | None
    decline_code: str | None = None


class BankClient:
    def __init__(self, url, api_key, timeout):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _request(self, method, path, body=None, idempotency_key=None):
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer = response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                log.warning("the bank answered %s to %s %s", error.code, method, path)
                raise BankUnavailable() from None
            status, answer = error.code, json.loads(error.read() or b"{}")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            log.warning("the bank did not answer %s %s", method, path)
            raise BankTimedOut() from None
        milliseconds = (time.perf_counter() - started) * 1000
        # the path alone: what was sent may hold a card
        log.info("bank %s %s: %s in %.1f ms", method, path.split("?")[0], status, milliseconds,
                 extra={"peer": "bank", "duration_ms": round(milliseconds, 1)})
        return status, answer

    def tokenize(self, card):
        """A single-use token for the card, and its brand and last four digits."""
        status, body = self._request("POST", "/v1/tokens", {"card": card})
        if status != 201:
            raise CardRefused(details={"card": body.get("error", {}).get("code", "invalid")})
        return body

    def card_token(self, card):
        """The card as `payments.pay` takes it from the edge: a token and what may
        be shown of the card (never its number or CVC)."""
        token = self.tokenize(card)
        return {"token": token["id"], "brand": token["card"]["brand"], "last4": token["card"]["last4"],
                "exp_month": card["exp_month"], "exp_year": card["exp_year"], "holder": card["holder"]}

    def charge(self, *, amount_minor, currency, source, reference, description, idempotency_key):
        status, body = self._request("POST", "/v1/charges", {
            "amount": amount_minor, "currency": currency, "source": source,
            "reference": reference, "description": description,
        }, idempotency_key=idempotency_key)
        if status == 201:
            return Charge("succeeded", body["id"])
        if status == 402:
            error = body.get("error", {})
            return Charge("declined", error.get("charge"), error.get("code", "card_declined"))
        if status == 400:
            raise CardRefused(details={"card": body.get("error", {}).get("code", "invalid")})
        log.error("the bank refused a charge request with %s", status)
        raise BankUnavailable()

    def find_charge(self, idempotency_key):
        """The charge made under `idempotency_key` as a `Charge`, or None if none was."""
        query = urllib.parse.urlencode({"idempotency_key": idempotency_key})
        status, body = self._request("GET", f"/v1/charges?{query}")
        if status != 200:
            raise BankUnavailable()
        for charge in body.get("data", []):
            if charge["status"] == "succeeded":
                return Charge("succeeded", charge["id"])
            return Charge("declined", charge["id"], charge.get("failure_code") or "card_declined")
        return None

    def refund(self, *, charge_id, idempotency_key, amount_minor=None):
        body = {"charge": charge_id}
        if amount_minor is not None:
            body["amount"] = amount_minor
        status, answer = self._request("POST", "/v1/refunds", body, idempotency_key=idempotency_key)
        if status != 201:
            log.error("the bank refused a refund with %s", status)
            raise BankUnavailable()
        return answer


class Bank(DependencyProvider):
    """`self.bank.charge(...)`: the configured bank's client, with the secret key
    (BANK_API_KEY). `Bank(publishable=True)` holds the publishable key instead
    (BANK_PUBLISHABLE_KEY), which can only tokenize cards: what the internet-facing
    gateway uses, so that it cannot charge or refund."""

    def __init__(self, publishable=False):
        self.publishable = publishable

    def setup(self):
        config = self.container.config
        key = (config.get("BANK_PUBLISHABLE_KEY", "pk_test_booking") if self.publishable
               else config.get("BANK_API_KEY", "sk_test_booking"))
        self.client = BankClient(config.get("BANK_URL", "http://localhost:8100"), key,
                                 float(config.get("BANK_TIMEOUT", 10)))

    def get_dependency(self, worker_ctx):
        return self.client
