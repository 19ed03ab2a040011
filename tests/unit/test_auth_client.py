"""Every service's line to auth (booking.kit.identity.AuthClient) when auth is away
or is sent made-up key ids: one timeout per outage, not one per call; the keys and
revoked tokens it has are used meanwhile; an unknown key id fetches the keys once."""
import time
from types import SimpleNamespace

import pytest

from booking.auth.keys import load_private_key, new_signing_key
from booking.kit.errors import ServiceUnavailable
from booking.kit.identity import AuthClient
from booking.kit.tokens import InvalidToken
from tests.unit.test_tokens import AUDIENCE, ISSUER, PASSPHRASE, SIGNING_KEY, issue


class FakeAuth:
    """Stands in for the auth service behind the client's proxy; counts each call."""

    def __init__(self):
        self.down = False
        self.calls = []
        self.revoked = []

    def __getattr__(self, method):
        def call(**kwargs):
            self.calls.append(method)
            if self.down:
                raise ConnectionError("auth is away")
            return {"jwks": lambda: {"keys": [SIGNING_KEY.public_jwk]}, "revocations": lambda: self.revoked}[method]()
        return call


@pytest.fixture
def auth():
    return FakeAuth()


@pytest.fixture
def client(auth):
    client = AuthClient()
    client.container = SimpleNamespace(service_name="search", config={
        "TOKEN_ISSUER": ISSUER, "TOKEN_AUDIENCE": AUDIENCE, "RPC_TIMEOUT": 1})
    client.setup()
    client._proxy = auth  # as if connected; a failure drops it, so keep handing it back
    client._stop_proxy = lambda: None
    return client


def test_an_auth_outage_costs_one_try_then_calls_are_answered_at_once(client, auth):
    auth.down = True
    with pytest.raises(ServiceUnavailable):
        client.call("revocations")
    for _ in range(5):
        with pytest.raises(ServiceUnavailable):
            client.call("revocations")
    assert auth.calls == ["revocations"]  # not asked again within the backoff

    client._down_until = time.monotonic() - 1  # the backoff is over
    auth.down = False
    assert client.call("revocations") == []


def test_with_auth_away_the_keys_and_revocations_this_process_has_are_used(client, auth):
    token = issue()
    assert client.verify(token).user_id == 7  # keys and revocations fetched
    auth.down = True
    client._keys_at = client._revoked_at = 0  # both are due to be fetched again
    for _ in range(5):
        assert client.verify(issue()).user_id == 7
    # one try, for the revoked tokens; the keys are not even asked for within the backoff
    assert auth.calls == ["revocations", "jwks", "revocations"]


def test_a_made_up_key_id_fetches_the_keys_once_not_at_every_call(client, auth):
    assert client.verify(issue()).user_id == 7
    stranger = new_signing_key(PASSPHRASE)
    forged = issue(kid=stranger.kid, private_key=load_private_key(stranger, PASSPHRASE))
    for _ in range(5):
        with pytest.raises(InvalidToken):
            client.verify(forged)
    assert auth.calls.count("jwks") == 2  # the first fetch, and one for the unknown id
