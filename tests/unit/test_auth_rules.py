"""The auth domain's plain rules: clients, scopes, refresh tokens, signing keys and
login limits. No broker; the limits run on a throwaway SQLite file."""
import base64
import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from booking.auth import limits
from booking.auth.clients import authenticate, registry
from booking.auth.exceptions import InvalidClient, InvalidGrant, InvalidScope, TooManyAttempts
from booking.auth.grants import REUSE_GRACE_SECONDS, check_refresh, hash_token, new_refresh_token, utcnow
from booking.auth.keys import load_private_key, new_signing_key
from booking.auth.models import RefreshToken
from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade

CLIENTS = registry({"OAUTH_CLIENTS": {
    "web": {"scopes": "account bookings"},
    "reports": {"secret": "reports-s3cret", "scopes": "users:read bookings:read"},
}})
PASSPHRASE = "a passphrase for the keys"


# clients and scopes

def test_a_client_with_its_own_secret_is_authenticated():
    client = authenticate(CLIENTS, "reports", "reports-s3cret")

    assert (client.client_id, client.scopes) == ("reports", frozenset({"users:read", "bookings:read"}))


@pytest.mark.parametrize("client_id, secret", [
    ("reports", "reports-s3cret "), ("reports", "REPORTS-S3CRET"), ("reports", ""), ("reports", None),
    ("nobody", "reports-s3cret"), ("", "reports-s3cret"), (None, None),
    # a public client has no secret, so it can never get a token of its own
    ("web", None), ("web", ""), ("web", "\0"), ("web", "anything"),
])
def test_a_wrong_secret_an_unknown_client_or_a_public_client_is_refused(client_id, secret):
    with pytest.raises(InvalidClient) as refusal:
        authenticate(CLIENTS, client_id, secret)
    assert refusal.value.http_status == 401


def test_a_client_configured_with_an_empty_secret_cannot_be_authenticated():
    clients = registry({"OAUTH_CLIENTS": {"users": {"secret": "", "scopes": "users:read"}}})

    with pytest.raises(InvalidClient):
        authenticate(clients, "users", "\0")


def test_a_client_gets_all_its_scopes_when_it_asks_for_none():
    assert CLIENTS["reports"].grant(None) == frozenset({"users:read", "bookings:read"})
    assert CLIENTS["reports"].grant("") == frozenset({"users:read", "bookings:read"})


def test_a_client_may_narrow_its_scopes():
    assert CLIENTS["reports"].grant("bookings:read") == frozenset({"bookings:read"})


def test_a_client_may_not_ask_for_a_scope_it_was_not_given():
    with pytest.raises(InvalidScope) as refusal:
        CLIENTS["reports"].grant("bookings:read account users:write")
    assert refusal.value.details == {"not_allowed": "account users:write"}


# refresh tokens

def refresh_row(now, client_id="web", ttl=3600):
    return new_refresh_token(subject="user:7", client_id=client_id, scopes={"account", "bookings"},
                             ttl=ttl, now=now)[1]


def test_a_refresh_token_is_kept_only_as_its_sha256_hash():
    token, row = new_refresh_token(subject="user:7", client_id="web", scopes={"bookings", "account"}, ttl=60)

    assert row.token_hash == hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(getattr(row, column.name)) for column in RefreshToken.__table__.columns]
    assert not any(token in value for value in stored)
    assert (row.subject, row.client_id, row.scope) == ("user:7", "web", "account bookings")


def test_hash_token_is_sha256_in_hex():
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_rotated_refresh_token_stays_in_its_family():
    first = refresh_row(utcnow())
    rotated = new_refresh_token(subject="user:7", client_id="web", scopes=(), ttl=60,
                                family_id=first.family_id)[1]

    assert rotated.family_id == first.family_id and rotated.token_hash != first.token_hash
    assert refresh_row(utcnow()).family_id != first.family_id


def test_an_unknown_refresh_token_or_one_of_another_client_is_refused():
    now = utcnow()

    with pytest.raises(InvalidGrant):
        check_refresh(None, "web", now)
    with pytest.raises(InvalidGrant):
        check_refresh(refresh_row(now), "reports", now)


def test_a_revoked_refresh_token_is_refused():
    now = utcnow()
    row = refresh_row(now)
    row.revoked_at = now

    with pytest.raises(InvalidGrant, match="revoked"):
        check_refresh(row, "web", now + timedelta(seconds=1))


def test_an_expired_refresh_token_is_refused():
    now = utcnow()

    with pytest.raises(InvalidGrant, match="expired"):
        check_refresh(refresh_row(now, ttl=60), "web", now + timedelta(seconds=60))
    assert check_refresh(refresh_row(now, ttl=60), "web", now + timedelta(seconds=59)) is False


def test_an_unused_refresh_token_may_be_exchanged():
    now = utcnow()

    assert check_refresh(refresh_row(now), "web", now) is False


def test_a_spent_refresh_token_presented_again_within_the_grace_is_a_retry():
    now = utcnow()
    row = refresh_row(now)
    row.used_at = now

    assert check_refresh(row, "web", now + timedelta(seconds=REUSE_GRACE_SECONDS)) is False


def test_a_spent_refresh_token_presented_again_after_the_grace_is_reuse():
    now = utcnow()
    row = refresh_row(now)
    row.used_at = now

    assert check_refresh(row, "web", now + timedelta(seconds=REUSE_GRACE_SECONDS + 1)) is True
    assert check_refresh(row, "web", now + timedelta(seconds=1), grace_seconds=0) is True


def test_rows_read_back_from_sqlite_without_a_zone_count_as_utc():
    now = utcnow()
    row = refresh_row(now)
    row.expires_at = row.expires_at.replace(tzinfo=None)
    row.used_at = now.replace(tzinfo=None)

    assert check_refresh(row, "web", now + timedelta(seconds=REUSE_GRACE_SECONDS + 1)) is True


# signing keys

def test_a_signing_key_is_kept_encrypted():
    key = new_signing_key(PASSPHRASE)

    assert "BEGIN ENCRYPTED PRIVATE KEY" in key.private_pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    with pytest.raises(ValueError):
        load_private_key(key, "not the passphrase")
    public = load_private_key(key, PASSPHRASE).public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == key.public_jwk["x"]


def test_a_signing_key_publishes_only_its_public_half():
    key = new_signing_key(PASSPHRASE)
    jwk = key.public_jwk

    assert (jwk["kid"], jwk["alg"], jwk["kty"], jwk["crv"], jwk["use"]) == (key.kid, "EdDSA", "OKP", "Ed25519", "sig")
    assert "d" not in jwk
    assert new_signing_key(PASSPHRASE).kid != key.kid


# login limits

@pytest.fixture
def session(tmp_path):
    uri = f"sqlite:///{tmp_path}/auth.db"
    upgrade("auth", uri)
    engine = create_db_engine(uri)
    with Session(engine) as session:
        yield session
    engine.dispose()


def fail(session, email, address, now, times=1):
    for _ in range(times):
        limits.begin_attempt(session, email, address, now)  # and the password was wrong


def check(session, email, address, now):
    """Whether an attempt would be allowed now (TooManyAttempts if not), leaving nothing behind."""
    attempt = session.begin_nested()
    try:
        limits.begin_attempt(session, email, address, now)
    finally:
        attempt.rollback()


def test_five_failures_lock_the_account_from_any_address(session):
    now = utcnow()
    fail(session, "ada@example.com", "10.0.0.1", now, times=4)
    check(session, "ada@example.com", "10.0.0.1", now)

    fail(session, "ada@example.com", "10.0.0.2", now)

    for email, address in [("ada@example.com", "10.0.0.1"), (" ADA@Example.com ", "192.0.2.9"),
                           ("ada@example.com", None)]:
        with pytest.raises(TooManyAttempts) as refusal:
            check(session, email, address, now)
        assert refusal.value.http_status == 429


def test_a_locked_account_does_not_lock_another(session):
    now = utcnow()
    fail(session, "ada@example.com", "10.0.0.1", now, times=5)

    check(session, "grace@example.com", "10.0.0.1", now)


def test_twenty_failures_from_one_address_block_that_address(session):
    now = utcnow()
    for number in range(19):
        fail(session, f"guess{number}@example.com", "203.0.113.7", now)
    check(session, "ada@example.com", "203.0.113.7", now)

    fail(session, "guess19@example.com", "203.0.113.7", now)

    with pytest.raises(TooManyAttempts):
        check(session, "ada@example.com", "203.0.113.7", now)
    check(session, "ada@example.com", "198.51.100.1", now)


def test_attempts_under_way_count_so_parallel_guesses_cannot_all_pass_the_check(session):
    """Five attempts begun at once, none of them answered yet, use up the account's
    five: a sixth is refused before any of them is known to have failed."""
    now = utcnow()
    under_way = [limits.begin_attempt(session, "ada@example.com", f"10.0.0.{n}", now) for n in range(5)]
    with pytest.raises(TooManyAttempts):
        check(session, "ada@example.com", "10.0.0.9", now)

    limits.forget(session, under_way[0])  # that one's password was right
    limits.begin_attempt(session, "ada@example.com", "10.0.0.9", now)


def test_failures_older_than_the_window_do_not_count(session):
    now = utcnow()
    fail(session, "ada@example.com", "10.0.0.1", now - timedelta(minutes=16), times=5)

    check(session, "ada@example.com", "10.0.0.1", now)
    with pytest.raises(TooManyAttempts):
        check(session, "ada@example.com", "10.0.0.1", now - timedelta(minutes=2))


def test_a_locked_account_is_told_when_it_may_try_again(session):
    """Locked by failures 10, 8, 6, 4 and 2 minutes ago: the oldest leaves the
    15-minute window in 5 minutes, and then one more attempt is allowed."""
    now = utcnow()
    for minutes in (10, 8, 6, 4, 2):
        fail(session, "ada@example.com", "10.0.0.1", now - timedelta(minutes=minutes))

    with pytest.raises(TooManyAttempts) as refusal:
        check(session, "ada@example.com", "10.0.0.1", now)
    assert refusal.value.details["retry_after"] == str(5 * 60)
    check(session, "ada@example.com", "10.0.0.1", now + timedelta(minutes=5, seconds=1))
