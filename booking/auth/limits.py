"""Login rate limits: failures counted per account and per address in a window."""
from datetime import timedelta

from sqlalchemy import delete, func, select

from booking.auth.exceptions import TooManyAttempts
from booking.auth.models import LoginFailure

WINDOW = timedelta(minutes=15)
MAX_FAILURES = {"account": 5, "address": 20}


def keys(email, address):
    return {"account": f"account:{email.strip().lower()}", "address": f"address:{address or '-'}"}


def check(session, email, address, now):
    """Raise `TooManyAttempts` if the account or the address failed too often lately."""
    for kind, key in keys(email, address).items():
        failures = session.scalar(
            select(func.count(LoginFailure.id)).where(LoginFailure.key == key, LoginFailure.at > now - WINDOW)
        )
        if failures >= MAX_FAILURES[kind]:
            raise TooManyAttempts(details={"retry_after": str(int(WINDOW.total_seconds()))})


def record_failure(session, email, address, now):
    session.add_all(LoginFailure(key=key, at=now) for key in keys(email, address).values())
    # forget what is out of every window
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
