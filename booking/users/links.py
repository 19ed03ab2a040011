"""Single-use links sent by e-mail: a password reset, an address to verify.

A token is 32 random bytes (`secrets.token_urlsafe`), written into the link and
never stored: the database keeps its SHA-256 only. It belongs to one account and
one purpose, lives a fixed time, and is spent by its first use (`redeem`: a
conditional UPDATE, so twins cannot both spend it). Issuing a new one voids the
account's older tokens of the same purpose. Plain functions of a session.
"""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update

from booking.kit.times import as_utc
from booking.users.models import AccountToken

LIFETIMES = {
    "password_reset": timedelta(minutes=30),
    "verify_email": timedelta(days=7),
    "change_email": timedelta(days=7),
}
# longer than any token made by `issue` (43 characters): no need to hash what cannot be one
MAX_TOKEN_LENGTH = 200


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session, user_id, purpose, email, now):
    """A new token for the account's `purpose`, sent to `email`; the account's older
    tokens of that purpose, not used yet, stop working."""
    session.execute(update(AccountToken).where(
        AccountToken.user_id == user_id, AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None), AccountToken.voided_at.is_(None)).values(voided_at=now))
    token = secrets.token_urlsafe(32)
    session.add(AccountToken(token_hash=hash_token(token), user_id=user_id, purpose=purpose, email=email,
                             created_at=now, expires_at=now + LIFETIMES[purpose]))
    session.flush()
    return token


def find(session, token, purposes):
    """The stored token of these `purposes` that `token` is, whatever its state; None
    for anything else (a wrong or tampered token)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.get(AccountToken, hash_token(token))
    return row if row is not None and row.purpose in purposes else None


def usable(row, now):
    return (row is not None and row.used_at is None and row.voided_at is None
            and as_utc(row.expires_at) > now)


def redeem(session, token, purposes, now):
    """The token's row, now spent; None if it is wrong, of another purpose, used,
    voided, expired, or spent a moment ago by a twin request."""
    row = find(session, token, purposes)
    if not usable(row, now):
        return None
    spent = session.execute(update(AccountToken).where(
        AccountToken.token_hash == row.token_hash, AccountToken.used_at.is_(None),
        AccountToken.voided_at.is_(None)).values(used_at=now)).rowcount
    if not spent:
        return None
    session.refresh(row)
    return row
