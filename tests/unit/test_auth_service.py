"""AuthService with worker_factory: its database a throwaway SQLite file, its
config the test profile, and `users` a mock."""
import hashlib
from types import SimpleNamespace

import nameko_sqlalchemy
import pytest
from nameko.containers import ServiceContainer
from nameko.rpc import Rpc
from nameko.testing.services import worker_factory
from nameko.testing.utils import get_extension
from nameko.utils import get_redacted_args
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from booking.auth.exceptions import (
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    OAuthError,
    TooManyAttempts,
    UnsupportedGrantType,
)
from booking.auth.models import LoginFailure, RefreshToken, SigningKey
from booking.auth.service import AuthService
from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade
from booking.kit.tokens import InvalidToken, public_keys, verify_access_token
from booking.users.exceptions import InvalidCredentials

CONFIG = {**load_config(PROJECT_ROOT / "config" / "test.yaml"), "ACCESS_TOKEN_TTL": 600, "REFRESH_REUSE_GRACE": 0}
DEVELOPER_SECRET = CONFIG["OAUTH_CLIENTS"]["developer"]["secret"]
ADA = {"id": 7, "email": "ada@example.com", "full_name": "Ada Lovelace", "created_at": "2026-01-01T00:00:00+00:00"}


@pytest.fixture
def auth(tmp_path):
    """The service on a migrated SQLite file: each `db.get_session()` a new session that
    commits at the end of its `with` block, as nameko-sqlalchemy's."""
    uri = f"sqlite:///{tmp_path}/auth.db"
    upgrade("auth", uri)
    engine = create_db_engine(uri)
    db = SimpleNamespace(get_session=sessionmaker(engine, class_=nameko_sqlalchemy.database.Session))
    yield worker_factory(AuthService, db=db, config=CONFIG)
    engine.dispose()


def verified(auth, token):
    """The caller of `token`, checked as any service checks it: with auth's published keys."""
    return verify_access_token(token, keys=public_keys(auth.jwks()), issuer=CONFIG["TOKEN_ISSUER"],
                               audience=CONFIG["TOKEN_AUDIENCE"], revoked=frozenset(auth.revocations()))


def developer_token(auth, **parameters):
    return auth.token(grant_type="client_credentials", client_id="developer", client_secret=DEVELOPER_SECRET,
                      **parameters)


def login_ada(auth):
    auth.users.verify_password.return_value = ADA
    return auth.login(email="ada@example.com", password="analytical engine 1843", client_address="10.0.0.1")


def refresh(auth, refresh_token, **parameters):
    return auth.token(grant_type="refresh_token", refresh_token=refresh_token, **parameters)


def test_client_credentials_give_a_verifiable_token_with_the_clients_scopes(auth):
    answer = developer_token(auth)

    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == ("Bearer", 600, "reports:render users:read")
    assert "refresh_token" not in answer
    caller = verified(auth, answer["access_token"])
    assert (caller.subject, caller.client_id, caller.scopes) == (
        "client:developer", "developer", frozenset({"users:read", "reports:render"}))


def test_client_credentials_for_a_scope_the_client_lacks_are_refused(auth):
    with pytest.raises(InvalidScope):
        developer_token(auth, scope="users:read account")


@pytest.mark.parametrize("client_id, client_secret", [
    ("developer", "not-the-secret"), ("nobody", DEVELOPER_SECRET), ("web", None), ("web", ""),
])
def test_client_credentials_with_a_wrong_secret_or_a_public_client_are_refused(auth, client_id, client_secret):
    with pytest.raises(InvalidClient):
        auth.token(grant_type="client_credentials", client_id=client_id, client_secret=client_secret)


def test_the_password_grant_is_not_supported(auth):
    with pytest.raises(UnsupportedGrantType):
        auth.token(grant_type="password", client_id="web")
    auth.users.verify_password.assert_not_called()


def test_a_password_grant_request_is_refused_as_unsupported(auth):
    with pytest.raises(OAuthError) as refusal:
        auth.token(grant_type="password", username="ada@example.com", password="analytical engine 1843")
    assert isinstance(refusal.value, UnsupportedGrantType), refusal.value.to_dict()


def test_login_gives_a_user_token_a_refresh_token_and_the_user(auth):
    answer = login_ada(auth)

    auth.users.verify_password.assert_called_once_with(email="ada@example.com", password="analytical engine 1843")
    caller = verified(auth, answer["access_token"])
    assert (caller.subject, caller.user_id, caller.client_id) == ("user:7", 7, "web")
    assert caller.scopes == frozenset({"account", "bookings"}) and answer["scope"] == "account bookings"
    assert len(answer["refresh_token"]) >= 40
    assert answer["user"] == ADA


def test_a_failed_login_is_recorded_and_the_sixth_is_refused_without_asking_users(auth):
    auth.users.verify_password.side_effect = InvalidCredentials()

    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            auth.login(email="ada@example.com", password="guess", client_address="10.0.0.1")
    with auth.db.get_session() as session:
        recorded = sorted(session.scalars(select(LoginFailure.key)))
    # the account's key names no one: its address's SHA-256
    ada = hashlib.sha256(b"ada@example.com").hexdigest()
    assert recorded == [f"account:{ada}"] * 5 + ["address:10.0.0.1"] * 5

    with pytest.raises(TooManyAttempts) as refusal:
        auth.login(email="Ada@Example.com", password="analytical engine 1843", client_address="192.0.2.1")
    assert refusal.value.http_status == 429
    assert auth.users.verify_password.call_count == 5


def test_refresh_rotates_the_refresh_token(auth):
    first = login_ada(auth)

    second = refresh(auth, first["refresh_token"])

    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert verified(auth, second["access_token"]).subject == "user:7"
    assert second["scope"] == "account bookings"


def test_a_refresh_retried_within_the_grace_gets_the_same_successor_and_the_family_stays_one(tmp_path):
    uri = f"sqlite:///{tmp_path}/auth.db"
    upgrade("auth", uri)
    engine = create_db_engine(uri)
    db = SimpleNamespace(get_session=sessionmaker(engine, class_=nameko_sqlalchemy.database.Session))
    auth = worker_factory(AuthService, db=db, config={**CONFIG, "REFRESH_REUSE_GRACE": 10})
    first = login_ada(auth)

    second = refresh(auth, first["refresh_token"])
    retried = refresh(auth, first["refresh_token"])  # its answer was lost: the same request again

    assert retried["refresh_token"] == second["refresh_token"]  # not a second, independent pair
    assert verified(auth, retried["access_token"]).subject == "user:7"
    third = refresh(auth, second["refresh_token"])  # the one successor goes on
    with pytest.raises(InvalidGrant):
        refresh(auth, third["refresh_token"] + "x")
    with db.get_session() as session:
        sealed = session.scalars(select(RefreshToken.successor_sealed)).all()
        assert second["refresh_token"] not in " ".join(filter(None, sealed))  # kept sealed, never in the clear
    engine.dispose()


def test_a_spent_refresh_token_revokes_its_whole_session(auth):
    first = login_ada(auth)
    second = refresh(auth, first["refresh_token"])

    with pytest.raises(InvalidGrant):
        refresh(auth, first["refresh_token"])
    with pytest.raises(InvalidGrant):
        refresh(auth, second["refresh_token"])


def test_a_refresh_token_is_bound_to_its_client_and_must_be_real(auth):
    answer = login_ada(auth)

    with pytest.raises(InvalidGrant):
        refresh(auth, answer["refresh_token"], client_id="developer")
    with pytest.raises(InvalidGrant):
        refresh(auth, "not-a-refresh-token")
    assert refresh(auth, answer["refresh_token"], client_id="web")["refresh_token"]


def test_revoking_a_refresh_token_ends_its_session(auth):
    answer = login_ada(auth)

    assert auth.revoke(answer["refresh_token"], token_type_hint="refresh_token") is None

    with pytest.raises(InvalidGrant):
        refresh(auth, answer["refresh_token"])


def test_a_revoked_access_token_is_listed_and_refused(auth):
    token = login_ada(auth)["access_token"]
    claims = auth.verify(token)
    assert (claims["sub"], claims["client_id"], claims["scope"]) == ("user:7", "web", "account bookings")

    auth.revoke(token)

    assert auth.revocations() == [claims["jti"]]
    with pytest.raises(InvalidToken):
        auth.verify(token)
    with pytest.raises(InvalidToken):
        verified(auth, token)


@pytest.mark.parametrize("token", ["not a token", "a.b.c", "x" * 5000])
def test_revoking_an_unknown_token_does_nothing(auth, token):
    assert auth.revoke(token) is None

    assert auth.revocations() == []


def test_jwks_publishes_one_key_made_on_first_use_and_keeps_it(auth):
    with auth.db.get_session() as session:
        assert session.scalars(select(SigningKey)).all() == []

    first = auth.jwks()

    [key] = first["keys"]
    assert (key["alg"], key["crv"], key["use"]) == ("EdDSA", "Ed25519", "sig") and "d" not in key
    assert auth.jwks() == first
    assert verified(auth, developer_token(auth)["access_token"]).client_id == "developer"
    assert auth.jwks() == first


def logged_arguments(method, **arguments):
    """The arguments of a call to `method` as nameko gives them to loggers and tracers:
    with the entrypoint's `sensitive_arguments` redacted."""
    container = ServiceContainer(AuthService, CONFIG)  # held: an extension refers to it weakly
    return get_redacted_args(get_extension(container, Rpc, method_name=method), **arguments)


def test_login_keeps_the_password_out_of_logs():
    assert logged_arguments("login", email="ada@example.com", password="analytical engine 1843") == {
        "email": "ada@example.com", "password": "********", "client_address": None}


def test_token_keeps_client_secrets_and_refresh_tokens_out_of_logs():
    logged = logged_arguments("token", grant_type="refresh_token", client_id="developer",
                              client_secret=DEVELOPER_SECRET, refresh_token="a-refresh-token")

    assert DEVELOPER_SECRET not in repr(logged) and "a-refresh-token" not in repr(logged)


def login_ada_with_version(auth, version):
    auth.users.verify_password.return_value = {**ADA, "credentials_version": version}
    return auth.login(email="ada@example.com", password="analytical engine 1843", client_address="10.0.0.1")


def test_login_does_not_show_the_version_of_the_password(auth):
    assert login_ada_with_version(auth, 3)["user"] == ADA


def test_a_new_password_signs_out_every_older_session_and_access_token_and_keeps_the_new_ones(auth):
    old = login_ada_with_version(auth, 0)
    rotated = refresh(auth, login_ada_with_version(auth, 0)["refresh_token"])  # a session, refreshed since
    new = login_ada_with_version(auth, 1)  # logged in again with the new password

    for _ in range(2):  # the event may come twice
        auth.sign_out_everywhere({"user_id": 7, "credentials_version": 1})

    for session in (old, rotated):
        with pytest.raises(InvalidGrant):
            refresh(auth, session["refresh_token"])
        with pytest.raises(InvalidToken):
            verified(auth, session["access_token"])
    assert verified(auth, new["access_token"]).user_id == 7
    assert refresh(auth, new["refresh_token"])["access_token"]


def test_a_new_password_signs_out_only_its_own_account(auth):
    ada = login_ada_with_version(auth, 0)
    auth.users.verify_password.return_value = {**ADA, "id": 8, "email": "grace@example.com", "credentials_version": 0}
    grace = auth.login(email="grace@example.com", password="analytical engine 1843", client_address="10.0.0.1")

    auth.sign_out_everywhere({"user_id": 8, "credentials_version": 1})

    assert refresh(auth, ada["refresh_token"])["access_token"] and verified(auth, ada["access_token"])
    with pytest.raises(InvalidGrant):
        refresh(auth, grace["refresh_token"])


def test_tokens_from_before_versions_count_as_version_0(auth):
    session = login_ada(auth)  # users answered without a version, as before
    with auth.db.get_session() as db_session:
        assert db_session.scalars(select(RefreshToken.credentials_version)).all() == [None]

    auth.sign_out_everywhere({"user_id": 7, "credentials_version": 1})

    with pytest.raises(InvalidGrant):
        refresh(auth, session["refresh_token"])
