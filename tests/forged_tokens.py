"""Access tokens an attacker (or a clock) could present, for the refusal tests."""
import base64
import hashlib
import hmac
import json
from datetime import timedelta

from booking.auth import grants
from booking.auth.keys import load_private_key, new_signing_key


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token):
    header, payload, signature = token.split(".")
    pad = lambda text: text + "=" * (-len(text) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(header))),
            json.loads(base64.urlsafe_b64decode(pad(payload))), signature)


def tampered(token, **claims):
    """The same signature over changed claims."""
    header, payload, signature = token.split(".")
    _, decoded, _ = segments(token)
    return f"{header}.{b64(json.dumps({**decoded, **claims}).encode())}.{signature}"


def unsigned(token):
    """`alg: none`, the claims of a real token, no signature."""
    header, payload, _ = segments(token)
    return f"{b64(json.dumps({**header, 'alg': 'none'}).encode())}.{b64(json.dumps(payload).encode())}."


def hs256_with_public_key(token, public_jwk):
    """Key confusion: HMAC-SHA256 keyed with the public key's bytes."""
    header, payload, _ = segments(token)
    secret = base64.urlsafe_b64decode(public_jwk["x"] + "=" * (-len(public_jwk["x"]) % 4))
    signing_input = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def signed(signing_key, passphrase, *, subject="user:1", scopes=("account",), issuer, audience,
           minutes_ago=0, kid=None):
    """A token signed with a real key (or a stranger's, with `kid`), issued `minutes_ago`."""
    token, _ = grants.access_token(
        kid=kid or signing_key.kid, private_key=load_private_key(signing_key, passphrase),
        subject=subject, client_id="web", scopes=scopes, issuer=issuer, audience=audience, ttl=600,
        now=grants.utcnow() - timedelta(minutes=minutes_ago),
    )
    return token


def stranger_key(passphrase="stranger"):
    return new_signing_key(passphrase), passphrase

