"""Request limits of the account flows: requests counted per key in a window.

The same pattern as auth's login limits (booking/auth/limits.py), kept in users
because these requests are users' and a service reads no other's tables: a request
is counted in the transaction that checks the count (`count`), so parallel requests
cannot all pass a check made before any was counted; the count is serialized per
key (SQLite has one writer at a time; PostgreSQL takes a transaction-level advisory
lock on each key). A password check counts as a failure until it proves right
(`forget`), as a login does.

    reset asked for an address        3 per 15 minutes   (whether or not it has an account)
    reset asked from a client address 20 per 15 minutes
    verification link sent again      3 per 15 minutes, per account
    wrong current password            5 per 15 minutes, per account (changing the password or the address,
                                      deleting the account)
    data export asked for             5 per 15 minutes, per account
"""
import math
from datetime import timedelta

from sqlalchemy import delete, func, select, text

from booking.users.exceptions import TooManyRequests
from booking.users.models import RequestCount

WINDOW = timedelta(minutes=15)
LIMITS = {"reset-email": 3, "reset-address": 20, "verification": 3, "password": 5, "export": 5}


def key(kind, value):
    return f"{kind}:{value if value not in (None, '') else '-'}"


def count(session, counted, now):
    """Count one request against each `{kind: key}` of `counted`; raise
    `TooManyRequests` (with `details.retry_after`, seconds) if that puts one over its
    limit: the caller's transaction then rolls back and nothing is counted. Returns
    the ids counted, for `forget`."""
    if session.get_bind().dialect.name == "postgresql":
        for value in sorted(counted.values()):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": value})
    rows = [RequestCount(key=value, at=now) for value in counted.values()]
    session.add_all(rows)
    session.flush()
    for kind, value in counted.items():
        seen = session.scalar(select(func.count(RequestCount.id))
                              .where(RequestCount.key == value, RequestCount.at > now - WINDOW))
        if seen > LIMITS[kind]:
            raise TooManyRequests(details={"retry_after": str(seconds_until_allowed(session, value, seen - 1,
                                                                                    LIMITS[kind], now))})
    session.execute(delete(RequestCount).where(RequestCount.at < now - WINDOW))
    return [row.id for row in rows]


def forget(session, counted_ids):
    """The requests counted did not count after all (a password that proved right)."""
    session.execute(delete(RequestCount).where(RequestCount.id.in_(counted_ids)))


def seconds_until_allowed(session, value, counted, limit, now):
    """When the next request would be allowed: once enough of the `counted` earlier
    ones have left the window that fewer than `limit` remain."""
    leaving = session.scalars(select(RequestCount.at).where(RequestCount.key == value,
                                                            RequestCount.at > now - WINDOW)
                              .order_by(RequestCount.at).offset(counted - limit).limit(1)).first()
    if leaving is None:
        return int(WINDOW.total_seconds())
    if (leaving.tzinfo is None) != (now.tzinfo is None):  # SQLite gives back naive times
        leaving, now = leaving.replace(tzinfo=None), now.replace(tzinfo=None)
    return max(1, math.ceil((leaving + WINDOW - now).total_seconds()))
