"""Login rate limits: attempts counted per account and per address in a window
(booking/kit/windows.py), in auth's own table.

An attempt counts as a failure from the moment it begins, in a transaction that
counts it with the others (`begin_attempt`), and stops counting once the password
proves right (`forget`): so parallel attempts cannot all pass a check made before
any of them failed.
"""
import hashlib

from booking.auth.exceptions import TooManyAttempts
from booking.auth.models import LoginFailure
from booking.kit.windows import CountedWindow

FAILURES = CountedWindow(LoginFailure, {"account": 5, "address": 20}, TooManyAttempts)
forget = FAILURES.forget


def keys(email, address):
    """The keys counted: an account's is its address's SHA-256, so that the failures
    kept for 15 minutes name no one (auth is never told an address to erase)."""
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return {"account": f"account:{account}", "address": f"address:{address or '-'}"}


def begin_attempt(session, email, address, now):
    """Count this attempt, as a failure until `forget` says otherwise; raise
    `TooManyAttempts` (and count nothing: roll back) if that puts the account or
    the address over its limit. Returns the attempt, for `forget`. Run it in a
    transaction of its own."""
    return FAILURES.count(session, keys(email, address), now)
