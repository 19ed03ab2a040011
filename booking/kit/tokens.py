"""Checking an access token: plain functions, no I/O.

Access tokens are JWTs signed by the auth service with Ed25519 (`alg: EdDSA`),
header `typ: at+jwt` and a `kid` naming the key in auth's published JWKS. Only
that algorithm is accepted, whatever the token's header says, so `alg: none` and
an HS256 token "signed" with the public key are refused like any forgery.
"""
import time
from dataclasses import dataclass

import jwt

from booking.kit.errors import Forbidden, Unauthorized

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"
CLOCK_SKEW_SECONDS = 30
# tokens whose signature a process remembers having checked
CHECKED_TOKENS_KEPT = 4096


class InvalidToken(Unauthorized):
    code = "INVALID_TOKEN"
    default_message = "The access token is not valid"


class UnknownSigningKey(InvalidToken):
    """The token names a key the JWKS does not have (yet): refresh the keys, then refuse."""


class MissingScope(Forbidden):
    code = "INSUFFICIENT_SCOPE"
    default_message = "The access token does not allow this"


@dataclass(frozen=True)
class Caller:
    """Who is calling: a user (`user_id`) through a client, or a service (client) itself."""

    subject: str
    client_id: str
    scopes: frozenset
    token_id: str
    expires_at: int

    @property
    def user_id(self):
        kind, _, value = self.subject.partition(":")
        return int(value) if kind == "user" else None

    def require(self, *scopes):
        missing = sorted(set(scopes) - self.scopes)
        if missing:
            raise MissingScope(details={"required": " ".join(missing)})
        return self


def public_keys(jwks):
    """{kid: key} from a JWKS document."""
    return {jwk["kid"]: jwt.PyJWK(jwk, algorithm=ALGORITHM).key for jwk in jwks.get("keys", [])}


def verify_access_token(token, *, keys, issuer, audience, revoked=frozenset()):
    """The `Caller` of a valid token; `InvalidToken` (or `UnknownSigningKey`) otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("The access token is malformed") from None
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("The access token is not of an accepted kind")
    key = keys.get(header.get("kid"))
    if key is None:
        raise UnknownSigningKey("The access token is signed with an unknown key")
    options = {"require": ["iss", "aud", "sub", "exp", "iat", "jti", "scope"]}
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS, options=options,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired") from None
    except jwt.PyJWTError:
        raise InvalidToken() from None
    return still_valid(Caller(
        subject=claims["sub"],
        client_id=claims.get("client_id", ""),
        scopes=frozenset(claims["scope"].split()),
        token_id=claims["jti"],
        expires_at=claims["exp"],
    ), revoked)


def still_valid(caller, revoked, now=None):
    """`caller`, if its token has neither expired nor been revoked."""
    if caller.expires_at + CLOCK_SKEW_SECONDS <= (time.time() if now is None else now):
        raise InvalidToken("The access token has expired")
    if caller.token_id in revoked:
        raise InvalidToken("The access token has been revoked")
    return caller


class CheckedTokens:
    """The callers of the tokens this process has checked already. A guest's token
    travels with every hop of a booking and every service checks it: the signature
    and the claims are checked once per process, expiry and revocation on every call.
    A token is remembered by its whole text, signature included, and only once it
    has passed; the oldest are forgotten first, and all of them when the keys change."""

    def __init__(self, size=CHECKED_TOKENS_KEPT):
        self.size = size
        self._callers = {}

    def caller(self, token, check, revoked, now=None):
        """The `Caller` of `token`; `check(token)` verifies a token not seen before."""
        caller = self._callers.get(token)
        if caller is None:
            caller = check(token)
            if len(self._callers) >= self.size:
                del self._callers[next(iter(self._callers))]
            self._callers[token] = caller
        return still_valid(caller, revoked, now)

    def forget(self):
        self._callers.clear()


def bearer_token(authorization):
    """The token of an `Authorization: Bearer <token>` value, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
