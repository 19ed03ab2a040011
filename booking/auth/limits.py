"""Login rate limits: attempts counted per account and per address in a window.

An attempt counts as a failure from the moment it begins, in a transaction that
counts it with the others (`begin_attempt`), and stops counting once the password
proves right (`forget`): so parallel attempts cannot all pass a check made before
any of them failed. The count is serialized per key: SQLite lets one writer at a
time, and PostgreSQL takes a transaction-level advisory lock on each key.
"""
import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete, func, select, text

from booking.auth.exceptions import TooManyAttempts
from booking.auth.models import LoginFailure

WINDOW = timedelta(minutes=15)
MAX_FAILURES = {"account": 5, "address": 20}


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
    counted = keys(email, address)
    if session.get_bind().dialect.name == "postgresql":
        for key in sorted(counted.values()):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    rows = [LoginFailure(key=key, at=now) for key in counted.values()]
    session.add_all(rows)
    session.flush()
    for kind, key in counted.items():
        attempts = session.scalar(
            select(func.count(LoginFailure.id)).where(LoginFailure.key == key, LoginFailure.at > now - WINDOW))
        if attempts > MAX_FAILURES[kind]:
            raise TooManyAttempts(details={"retry_after": str(seconds_until_allowed(session, key, attempts - 1,
                                                                                    MAX_FAILURES[kind], now))})
    # forget what is out of every window
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    return [row.id for row in rows]


def forget(session, attempt):
    """The attempt was not a failure (the password was right, or it could not be
    checked): it no longer counts."""
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(attempt)))


def seconds_until_allowed(session, key, counted, limit, now):
    """When the next attempt would be allowed: once enough of the `counted` earlier
    failures have left the window that fewer than `limit` remain."""
    leaving = session.scalars(select(LoginFailure.at).where(LoginFailure.key == key, LoginFailure.at > now - WINDOW)
                              .order_by(LoginFailure.at).offset(counted - limit).limit(1)).first()
    if leaving is None:
        return int(WINDOW.total_seconds())
    if (leaving.tzinfo is None) != (now.tzinfo is None):  # SQLite gives back naive times
        leaving, now = leaving.replace(tzinfo=None), now.replace(tzinfo=None)
    return max(1, math.ceil((leaving + WINDOW - now).total_seconds()))
