"""Time, one way everywhere: instants in UTC, stays as nights."""
from datetime import UTC, datetime, timedelta


def utcnow():
    return datetime.now(UTC)


def as_utc(moment):
    """A datetime read back from a database: SQLite keeps no zone, and it was UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def nights(check_in, check_out):
    """The nights of a stay: each date from check-in up to, not including, check-out."""
    return [check_in + timedelta(days=offset) for offset in range((check_out - check_in).days)]
