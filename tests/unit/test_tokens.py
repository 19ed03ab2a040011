"""Checking access tokens (booking.kit.tokens): what passes, and every forgery
that must be refused as `InvalidToken` (401), never as anything else."""
import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from booking.auth.grants import MAX_ACCESS_TOKEN_SECONDS, access_token, utcnow
from booking.auth.keys import load_private_key, new_signing_key
from booking.kit.errors import Forbidden, Unauthorized
from booking.kit.tokens import (
    CLOCK_SKEW_SECONDS,
    Caller,
    CheckedTokens,
    InvalidToken,
    MissingScope,
    UnknownSigningKey,
    bearer_token,
    public_keys,
    verify_access_token,
)

ISSUER = "https://auth.booking.test"
AUDIENCE = "booking"
PASSPHRASE = "correct horse battery staple"
SIGNING_KEY = new_signing_key(PASSPHRASE)
PRIVATE_KEY = load_private_key(SIGNING_KEY, PASSPHRASE)
KEYS = public_keys({"keys": [SIGNING_KEY.public_jwk]})


# a token as auth issues it: user 7 through the web client
GRANT = {"kid": SIGNING_KEY.kid, "private_key": PRIVATE_KEY, "subject": "user:7", "client_id": "web",
         "scopes": {"account", "bookings"}, "issuer": ISSUER, "audience": AUDIENCE, "ttl": 600}


def issue(**changes):
    return access_token(**{**GRANT, **changes})[0]


def verify(token, revoked=frozenset()):
    return verify_access_token(token, keys=KEYS, issuer=ISSUER, audience=AUDIENCE, revoked=revoked)


def refused(token, revoked=frozenset()):
    """The error `verify` raises for `token`; it must be an `InvalidToken` with status 401."""
    with pytest.raises(InvalidToken) as refusal:
        verify(token, revoked)
    assert isinstance(refusal.value, Unauthorized) and refusal.value.http_status == 401
    return refusal.value


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encoded(document):
    return b64(json.dumps(document).encode())


def decoded(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def header_of(token):
    return decoded(token.split(".")[0])


def claims_of(token):
    return decoded(token.split(".")[1])


def test_a_valid_token_names_the_caller():
    token = issue()
    caller = verify(token)

    assert (caller.subject, caller.user_id, caller.client_id) == ("user:7", 7, "web")
    assert caller.scopes == frozenset({"account", "bookings"})
    assert (caller.token_id, caller.expires_at) == (claims_of(token)["jti"], claims_of(token)["exp"])


def test_a_service_token_has_no_user():
    caller = verify(issue(subject="client:reports", client_id="reports", scopes={"users:read"}))

    assert (caller.user_id, caller.client_id, caller.scopes) == (None, "reports", frozenset({"users:read"}))


def test_a_changed_claim_under_the_original_signature_is_refused():
    token = issue()
    header, _, signature = token.split(".")
    claims = claims_of(token)

    refused(f"{header}.{encoded({**claims, 'sub': 'user:1'})}.{signature}")
    refused(f"{header}.{encoded({**claims, 'scope': 'account bookings users:read'})}.{signature}")


def test_a_changed_signature_is_refused():
    header, payload, signature = issue().split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]

    refused(f"{header}.{payload}.{flipped}")
    refused(f"{header}.{payload}.")


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused():
    other = new_signing_key(PASSPHRASE)

    error = refused(issue(private_key=load_private_key(other, PASSPHRASE)))
    assert not isinstance(error, UnknownSigningKey)


def test_an_expired_token_is_refused():
    error = refused(issue(ttl=60, now=utcnow() - timedelta(minutes=10)))
    assert "expired" in error.message


def test_a_token_expired_within_the_clock_skew_is_still_accepted():
    assert verify(issue(ttl=60, now=utcnow() - timedelta(seconds=70))).user_id == 7


def test_an_unsigned_token_with_alg_none_is_refused():
    claims = claims_of(issue())
    header = {"alg": "none", "typ": "at+jwt", "kid": SIGNING_KEY.kid}

    refused(f"{encoded(header)}.{encoded(claims)}.")


def public_key_as_secrets():
    """What an attacker may use as the HMAC secret: the public key in each form it is published in."""
    public = PRIVATE_KEY.public_key()
    return {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(SIGNING_KEY.public_jwk).encode(),
        "x": SIGNING_KEY.public_jwk["x"].encode(),
    }


@pytest.mark.parametrize("form", ["raw", "pem", "jwk", "x"])
def test_an_hs256_token_keyed_with_the_public_key_is_refused(form):
    header = {"alg": "HS256", "typ": "at+jwt", "kid": SIGNING_KEY.kid}
    signing_input = f"{encoded(header)}.{encoded(claims_of(issue()))}"
    mac = hmac.new(public_key_as_secrets()[form], signing_input.encode(), hashlib.sha256).digest()

    refused(f"{signing_input}.{b64(mac)}")


def test_a_token_for_another_audience_or_issuer_is_refused():
    refused(issue(audience="payments-sandbox"))
    refused(issue(issuer="https://auth.elsewhere.test"))


def test_a_token_naming_an_unknown_key_is_refused_as_such():
    with pytest.raises(UnknownSigningKey):
        verify(issue(kid="not-a-known-kid"))
    assert issubclass(UnknownSigningKey, InvalidToken)


def test_a_plain_jwt_is_not_an_access_token():
    token = jwt.encode(claims_of(issue()), PRIVATE_KEY, algorithm="EdDSA",
                       headers={"kid": SIGNING_KEY.kid, "typ": "JWT"})

    assert header_of(token)["typ"] == "JWT"
    refused(token)


def test_a_revoked_token_is_refused():
    token = issue()

    error = refused(token, revoked={claims_of(token)["jti"]})
    assert "revoked" in error.message
    assert verify(token, revoked={"some-other-jti"}).user_id == 7


class CountedChecks:
    """`verify`, counting the tokens it was asked to check."""

    def __init__(self):
        self.checked = []

    def __call__(self, token):
        self.checked.append(token)
        return verify(token)


def test_a_token_is_checked_once_then_remembered():
    tokens, check = CheckedTokens(), CountedChecks()
    token = issue()
    for _ in range(3):
        assert tokens.caller(token, check, revoked=frozenset()).user_id == 7
    assert check.checked == [token]


def test_a_remembered_token_is_still_refused_once_revoked_or_expired():
    tokens, token = CheckedTokens(), issue(ttl=60)
    caller = tokens.caller(token, verify, revoked=frozenset())

    assert "revoked" in pytest.raises(InvalidToken, tokens.caller, token, verify,
                                      revoked={caller.token_id}).value.message
    expired_at = caller.expires_at + CLOCK_SKEW_SECONDS
    assert tokens.caller(token, verify, revoked=frozenset(), now=expired_at - 1) == caller
    assert "expired" in pytest.raises(InvalidToken, tokens.caller, token, verify, revoked=frozenset(),
                                      now=expired_at).value.message


def test_a_refused_token_is_not_remembered_the_oldest_go_first_and_all_can_be_forgotten():
    tokens, check = CheckedTokens(size=2), CountedChecks()
    forged = issue()[:-4] + "AAAA"
    for _ in range(2):
        pytest.raises(InvalidToken, tokens.caller, forged, check, revoked=frozenset())
    first, second, third = issue(), issue(), issue()
    for token in (first, second, third, third, second, first):
        tokens.caller(token, check, revoked=frozenset())
    assert check.checked == [forged, forged, first, second, third, first]

    tokens.forget()
    tokens.caller(first, check, revoked=frozenset())
    assert check.checked[-1] == first and len(check.checked) == 7


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "..", "Bearer x.y.z", "é.ü.ß"])
def test_garbage_is_refused(garbage):
    refused(garbage)


def test_a_missing_scope_is_forbidden_and_named():
    caller = verify(issue())

    assert caller.require("account") is caller
    with pytest.raises(MissingScope) as refusal:
        caller.require("account", "users:read", "bookings")
    assert isinstance(refusal.value, Forbidden) and refusal.value.http_status == 403
    assert refusal.value.details == {"required": "users:read"}


def test_a_caller_without_scopes_may_do_nothing_scoped():
    caller = Caller(subject="client:users", client_id="users", scopes=frozenset(), token_id="t", expires_at=0)

    with pytest.raises(MissingScope):
        caller.require("account")


@pytest.mark.parametrize("authorization, token", [
    ("Bearer x", "x"), ("bearer abc.def.ghi", "abc.def.ghi"), ("Basic x", None), ("", None), (None, None),
    ("Bearer ", None), ("Bearer", None), ("Bearerx", None),
])
def test_bearer_token_is_taken_from_an_authorization_value(authorization, token):
    assert bearer_token(authorization) == token


def test_an_access_token_never_lives_longer_than_fifteen_minutes():
    now = utcnow()
    token, expires_in = access_token(**{**GRANT, "ttl": 3600, "now": now})

    assert expires_in == MAX_ACCESS_TOKEN_SECONDS == 15 * 60
    assert verify(token).expires_at == int(now.timestamp()) + 15 * 60
