"""Requests counted per key in a sliding window, for a service's rate limits (auth's
logins, users' account flows), in a table of the service's own: rows of `id`, `key`
(a string) and `at`.

A request is counted in the transaction that checks the count (`count`), so parallel
requests cannot all pass a check made before any was counted; the count is
serialized per key (SQLite has one writer at a time; PostgreSQL takes a
transaction-level advisory lock on each key). A request that did not count after
all (a password that proved right) is taken back (`forget`).
"""
import math
from datetime import timedelta

from sqlalchemy import delete, func, select, text


class CountedWindow:
    def __init__(self, model, limits, refused, window=timedelta(minutes=15)):
        """`model`: the table's mapped class; `limits`: {kind: most requests in the
        window}; `refused`: the error raised past one, given `details.retry_after`."""
        self.model, self.limits, self.refused, self.window = model, limits, refused, window

    def count(self, session, counted, now):
        """Count one request against each `{kind: key}` of `counted`; raise `refused`
        (with `details.retry_after`, seconds) if that puts one over its limit: the
        caller's transaction then rolls back and nothing is counted. Returns the ids
        counted, for `forget`. Rows out of every window are deleted on the way."""
        if session.get_bind().dialect.name == "postgresql":
            for key in sorted(counted.values()):
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        rows = [self.model(key=key, at=now) for key in counted.values()]
        session.add_all(rows)
        session.flush()
        for kind, key in counted.items():
            seen = session.scalar(select(func.count(self.model.id))
                                  .where(self.model.key == key, self.model.at > now - self.window))
            if seen > self.limits[kind]:
                wait = self.seconds_until_allowed(session, key, seen - 1, self.limits[kind], now)
                raise self.refused(details={"retry_after": str(wait)})
        session.execute(delete(self.model).where(self.model.at < now - self.window))
        return [row.id for row in rows]

    def forget(self, session, counted_ids):
        """The requests counted did not count after all."""
        session.execute(delete(self.model).where(self.model.id.in_(counted_ids)))

    def seconds_until_allowed(self, session, key, counted, limit, now):
        """When the next request would be allowed: once enough of the `counted`
        earlier ones have left the window that fewer than `limit` remain."""
        leaving = session.scalars(select(self.model.at).where(self.model.key == key,
                                                              self.model.at > now - self.window)
                                  .order_by(self.model.at).offset(counted - limit).limit(1)).first()
        if leaving is None:
            return int(self.window.total_seconds())
        if (leaving.tzinfo is None) != (now.tzinfo is None):  # SQLite gives back naive times
            leaving, now = leaving.replace(tzinfo=None), now.replace(tzinfo=None)
        return max(1, math.ceil((leaving + self.window - now).total_seconds()))
