"""Issuing and rotating tokens: the rules, as plain functions."""
import base64
import hashlib
import secrets
import uuid
from datetime import timedelta

import jwt
from cryptography.fernet import Fernet

from booking.auth.exceptions import InvalidGrant
from booking.auth.models import RefreshToken
from booking.kit.times import as_utc, utcnow
from booking.kit.tokens import ALGORITHM, TOKEN_TYPE

MAX_ACCESS_TOKEN_SECONDS = 15 * 60
# a refresh token used again this soon after its rotation is taken as a retry of
# the same request (at-least-once delivery), not as theft (REFRESH_REUSE_GRACE)
REUSE_GRACE_SECONDS = 10


def access_token(*, kid, private_key, subject, client_id, scopes, issuer, audience, ttl, now=None, jti=None):
    """(token, expires_in): a signed JWT access token, never valid beyond 15 minutes."""
    now = now or utcnow()
    ttl = min(int(ttl), MAX_ACCESS_TOKEN_SECONDS)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "scope": " ".join(sorted(scopes)),
        "jti": jti or uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl,
    }
    token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})
    return token, ttl


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _successor_key(passphrase):
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"refresh successor:{passphrase}".encode()).digest()))


def seal_successor(token, passphrase):
    """A refresh token as a spent one keeps it: encrypted with a key of the
    SIGNING_KEY_PASSPHRASE's, as auth's signing keys are."""
    return _successor_key(passphrase).encrypt(token.encode()).decode()


def unseal_successor(sealed, passphrase):
    return _successor_key(passphrase).decrypt(sealed.encode()).decode()


def new_refresh_token(*, subject, client_id, scopes, ttl, family_id=None, now=None, credentials_version=None):
    """(token, row): the opaque token to hand out and the row that keeps its hash."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = RefreshToken(
        token_hash=hash_token(token), family_id=family_id or uuid.uuid4().hex, subject=subject,
        client_id=client_id, scope=" ".join(sorted(scopes)), created_at=now,
        expires_at=now + timedelta(seconds=int(ttl)), credentials_version=credentials_version,
    )
    return token, row


def check_refresh(row, client_id, now=None, grace_seconds=REUSE_GRACE_SECONDS):
    """Raise `InvalidGrant` unless `row` may be exchanged now. Returns True when the
    token was already rotated and its whole family must be revoked (reuse)."""
    now = now or utcnow()
    if row is None or row.client_id != client_id:
        raise InvalidGrant()
    if row.revoked_at is not None:
        raise InvalidGrant("The refresh token has been revoked")
    if as_utc(row.expires_at) <= now:
        raise InvalidGrant("The refresh token has expired")
    if row.used_at is not None:
        return (now - as_utc(row.used_at)).total_seconds() > grace_seconds
    return False
