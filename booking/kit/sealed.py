"""A password sealed for its way across the broker.

A guest's password goes from the gateway to users as an RPC argument (to register,
or through auth to log in), and RabbitMQ carries it, may write it to disk and shows
it to anyone who traces the vhost. So the gateway seals it with `CREDENTIALS_KEY`
(Fernet: AES and an HMAC), auth passes it on as it came, and only users unseals it.
A value that is not sealed passes through as it is: from `nameko shell` a password
may still be sent in the clear, as a full card may be to payments.
"""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "sealed:"
# a sealed password copied off the broker opens nothing after this long
SEALED_TTL_SECONDS = 120


def _fernet(config):
    key = hashlib.sha256(config["CREDENTIALS_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value, config):
    """`value` sealed with the config's CREDENTIALS_KEY, if it is a string (anything
    else is left for the receiver's schema to refuse)."""
    if not isinstance(value, str):
        return value
    return PREFIX + _fernet(config).encrypt(value.encode()).decode()


def unseal(value, config):
    """What `seal` sealed, or `value` itself if it is not sealed. ValueError if it
    was sealed with another key, altered, or sealed too long ago."""
    if not (isinstance(value, str) and value.startswith(PREFIX)):
        return value
    try:
        return _fernet(config).decrypt(value[len(PREFIX):].encode(), ttl=SEALED_TTL_SECONDS).decode()
    except InvalidToken:
        raise ValueError("A sealed value that CREDENTIALS_KEY does not open") from None
