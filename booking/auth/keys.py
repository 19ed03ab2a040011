"""Signing keys: Ed25519 pairs, the private half encrypted at rest, the public
half published as a JWK under its `kid`."""
import json
import secrets
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from booking.auth.models import SigningKey
from booking.kit.tokens import ALGORITHM


def new_signing_key(passphrase, now=None):
    private = Ed25519PrivateKey.generate()
    kid = secrets.token_urlsafe(12)
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    return SigningKey(kid=kid, private_pem=pem.decode(), public_jwk=jwk,
                      created_at=now or datetime.now(UTC))


def load_private_key(signing_key, passphrase):
    return serialization.load_pem_private_key(signing_key.private_pem.encode(), passphrase.encode())


def active_keys(session):
    """Keys not retired, newest first: the first signs, all are published."""
    return list(session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
    ))


def jwks(session):
    return {"keys": [key.public_jwk for key in active_keys(session)]}


def rotate(session, passphrase, retire_older=False):
    """Add a new signing key (it signs from now on); optionally retire the others,
    which invalidates the tokens they signed."""
    now = datetime.now(UTC)
    if retire_older:
        for key in active_keys(session):
            key.retired_at = now
    key = new_signing_key(passphrase, now)
    session.add(key)
    return key
