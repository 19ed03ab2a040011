"""Accounts and tokens end to end: gateway, users and auth in real containers on the
real broker, a real SMTP sink, databases on SQLite and on PostgreSQL."""
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.orm import Session

from booking.auth import keys
from booking.auth.service import AuthService
from booking.devstack.mailsink import wait_for_message
from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.database import create_db_engine
from booking.kit.errors import Unauthorized
from booking.kit.tokens import InvalidToken, MissingScope
from booking.users.service import UsersService
from entrypoints.gateway.service import GatewayService
from tests import eventually
from tests import forged_tokens as forged

PASSWORD = "analytical engine 1843"
# how long after its revocation a token may still pass (each service's list of revoked
# tokens is that old at most); one an event causes (a password changed, an account
# deleted) comes that much after the event
REVOCATIONS_MAX_AGE = float(load_config(PROJECT_ROOT / "config" / "test.yaml")["REVOCATIONS_MAX_AGE"])


class Client(requests.Session):
    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False  # get() asks to follow; the tests look at each hop
        kwargs.setdefault("timeout", 15)
        return super().request(method, self.base_url + url, *args, **kwargs)

    def bearer(self, token):
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def stack_config(config, db_uris):
    return {**config, "DB_URIS": db_uris}


@pytest.fixture
def stack(container_factory, stack_config):
    for service in (UsersService, AuthService, GatewayService):
        container_factory(service, stack_config).start()
    return stack_config


@pytest.fixture
def web(stack):
    with Client(f"http://{stack['WEB_SERVER_ADDRESS']}") as client:
        yield client


def register(web, email="ada@example.com", full_name="Ada Lovelace", password=PASSWORD):
    response = web.post("/api/v1/users", json={"email": email, "password": password, "full_name": full_name})
    assert response.status_code == 201, response.text
    return response.json()


def login(web, email="ada@example.com", password=PASSWORD):
    response = web.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def test_register_welcome_login_me_refresh_revoke(stack, web):
    user = register(web, email="  Ada@Example.com ")
    assert user["email"] == "ada@example.com"

    welcome = wait_for_message(stack["MAIL_DIR"], lambda m: m["To"] == "ada@example.com")
    assert welcome["Subject"] == "Welcome to Booking"
    assert "Hello Ada Lovelace" in welcome.get_body(("plain",)).get_content()
    assert "<p>Hello Ada Lovelace,</p>" in welcome.get_body(("html",)).get_content()

    tokens = login(web)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] <= 900
    assert tokens["scope"] == "account bookings"
    me = web.get("/api/v1/me", headers=web.bearer(tokens["access_token"]))
    assert me.json() == user

    refreshed = web.post("/oauth/token", data={"grant_type": "refresh_token",
                                               "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["Cache-Control"] == "no-store"
    renewed = refreshed.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert web.get("/api/v1/me", headers=web.bearer(renewed["access_token"])).status_code == 200

    revoked = web.post("/oauth/revoke", data={"token": renewed["access_token"]})
    assert revoked.status_code == 200
    # refused once each service has read its list of revoked tokens again
    def refused():
        after = web.get("/api/v1/me", headers=web.bearer(renewed["access_token"]))
        assert after.status_code == 401 and after.json()["error"] == "INVALID_TOKEN"
    eventually(refused, timeout=REVOCATIONS_MAX_AGE + 2)


def test_a_spent_refresh_token_revokes_its_whole_family(web):
    register(web)
    first = login(web)
    second = web.post("/oauth/token", data={"grant_type": "refresh_token",
                                            "refresh_token": first["refresh_token"]}).json()
    reused = web.post("/oauth/token", data={"grant_type": "refresh_token",
                                            "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert set(reused.json()) == {"error", "error_description"}
    stolen_successor = web.post("/oauth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": second["refresh_token"]})
    assert stolen_successor.json()["error"] == "invalid_grant"


def test_oauth_token_endpoint_speaks_rfc_6749(stack, web):
    password = web.post("/oauth/token", data={"grant_type": "password", "username": "ada@example.com",
                                              "password": PASSWORD})
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    wrong = web.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "developer",
                                           "client_secret": "guess"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    basic = web.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=("developer", stack["OAUTH_CLIENTS"]["developer"]["secret"]))
    assert basic.status_code == 200 and basic.json()["scope"] == "reports:render users:read"
    assert "refresh_token" not in basic.json()
    missing = web.post("/oauth/token", data={})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_login_says_the_same_for_unknown_email_and_wrong_password(web):
    register(web)
    unknown = web.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    wrong = web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD + "!"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_login_is_rate_limited_per_account(web):
    register(web)
    for _ in range(5):
        assert web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": "nope"}
                        ).status_code == 401
    limited = web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert limited.status_code == 429
    assert limited.json()["error"] == "TOO_MANY_ATTEMPTS"
    assert int(limited.headers["Retry-After"]) > 0


def signing_key(stack):
    """The key auth signs with, read from its database (it exists after a login)."""
    engine = create_db_engine(stack["DB_URIS"]["auth"])
    with Session(engine) as session:
        key = keys.active_keys(session)[0]
        session.expunge(key)
    engine.dispose()
    return key


def refused_tokens(stack, web):
    genuine = login(web)["access_token"]
    real_key = signing_key(stack)
    settings = {"issuer": stack["TOKEN_ISSUER"], "audience": stack["TOKEN_AUDIENCE"]}
    passphrase = stack["SIGNING_KEY_PASSPHRASE"]
    stranger, stranger_passphrase = forged.stranger_key()
    return {
        "tampered": forged.tampered(genuine, sub="user:999"),
        "expired": forged.signed(real_key, passphrase, minutes_ago=20, **settings),
        "alg none": forged.unsigned(genuine),
        "HS256 with the public key": forged.hs256_with_public_key(genuine, real_key.public_jwk),
        "another audience": forged.signed(real_key, passphrase, **{**settings, "audience": "elsewhere"}),
        "unknown kid": forged.signed(stranger, stranger_passphrase, **settings),
        "a stranger's key under a known kid": forged.signed(stranger, stranger_passphrase,
                                                            kid=real_key.kid, **settings),
    }


def test_forged_and_expired_tokens_are_401_over_http(stack, web):
    register(web)
    for name, token in refused_tokens(stack, web).items():
        response = web.get("/api/v1/me", headers=web.bearer(token))
        assert response.status_code == 401, name
        assert response.json()["error"] == "INVALID_TOKEN", name
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_forged_tokens_are_typed_errors_over_rpc(stack, web):
    register(web)
    for token in refused_tokens(stack, web).values():
        with ClusterRpcProxy(stack, context_data={"authorization": f"Bearer {token}"}) as rpc:
            with pytest.raises(InvalidToken):
                rpc.users.me()


def test_a_token_without_the_scope_is_403(stack, web):
    register(web)
    with ClusterRpcProxy(stack) as rpc:
        developer = rpc.auth.token(grant_type="client_credentials", client_id="developer",
                                   client_secret=stack["OAUTH_CLIENTS"]["developer"]["secret"])
    with ClusterRpcProxy(stack, context_data={"authorization": f"Bearer {developer['access_token']}"}) as rpc:
        assert rpc.users.get(1)["email"] == "ada@example.com"
        with pytest.raises(MissingScope):
            rpc.users.verify_password(email="ada@example.com", password=PASSWORD)
    response = web.get("/api/v1/me", headers=web.bearer(developer["access_token"]))
    assert response.status_code == 403 and response.json()["error"] == "INSUFFICIENT_SCOPE"


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_web_register_login_logout_with_sessions_and_csrf(web):
    form = web.get("/register")
    session_cookie = web.cookies["booking_session"]
    assert "HttpOnly" in form.headers["Set-Cookie"] and "SameSite=Lax" in form.headers["Set-Cookie"]
    created = web.post("/register", data={"csrf_token": csrf_of(form), "email": "grace@example.com",
                                          "password": PASSWORD, "full_name": "Grace Hopper"})
    assert created.status_code == 303 and created.headers["Location"].endswith("/account")
    assert web.cookies["booking_session"] != session_cookie  # a new session at login
    account = web.get("/account")
    assert account.status_code == 200 and "grace@example.com" in account.text
    assert "Grace Hopper" in account.text

    logged_out = web.post("/logout", data={"csrf_token": csrf_of(account)})
    assert logged_out.status_code == 303
    assert web.get("/account").headers["Location"].startswith("/login")

    login_form = web.get("/login")
    logged_in = web.post("/login", data={"csrf_token": csrf_of(login_form), "email": "grace@example.com",
                                         "password": PASSWORD})
    assert logged_in.status_code == 303
    assert web.get("/account").status_code == 200


def web_login(web, email="ada@example.com", password=PASSWORD):
    form = web.get("/login")
    logged_in = web.post("/login", data={"csrf_token": csrf_of(form), "email": email, "password": password})
    assert logged_in.status_code == 303, logged_in.text


def test_the_json_api_never_takes_the_session_cookie_for_a_token(web):
    """A browser sends the cookie by itself (a form on another site included): the
    API authenticates by its Bearer token alone."""
    register(web)
    web_login(web)
    assert web.get("/account").status_code == 200  # the page knows the session
    me = web.get("/api/v1/me")
    assert me.status_code == 401 and me.json()["error"] == "UNAUTHORIZED", me.text


@pytest.fixture
def refreshing(container_factory, stack_config):
    """A stack whose access tokens are refreshed at every page (they live 20 s, and a
    session refreshes 30 s before expiry) and where a spent refresh token presented
    again revokes its session at once (no grace): {"web": client, "auth": container}."""
    config = {**stack_config, "ACCESS_TOKEN_TTL": 20, "REFRESH_REUSE_GRACE": 0}
    started = {}
    for service in (UsersService, AuthService, GatewayService):
        started[service.name] = container = container_factory(service, config)
        container.start()
    with Client(f"http://{config['WEB_SERVER_ADDRESS']}") as client:
        yield {"web": client, "auth": started["auth"],
               "start_auth": lambda: container_factory(AuthService, config).start()}


def test_tokens_refreshed_while_an_error_page_is_served_are_kept_and_the_guest_stays_logged_in(refreshing):
    web = refreshing["web"]
    register(web)
    web_login(web)
    before = web.cookies["booking_session"]
    error = web.get("/bookings/BK00000000")  # reservations is not running: a 503 page
    assert error.status_code == 503
    assert web.cookies["booking_session"] != before  # the new tokens came with the error page
    for _ in range(3):  # each page refreshes again with the last refresh token: never a spent one
        assert web.get("/account").status_code == 200


def test_an_auth_outage_does_not_log_the_guest_out(refreshing):
    web = refreshing["web"]
    register(web)
    web_login(web)
    refreshing["auth"].stop()  # the refresh cannot be made
    during = web.get("/account", allow_redirects=False)
    assert during.status_code != 303, "sent to the login page"  # a 503 page says auth is away
    refreshing["start_auth"]()
    after = web.get("/account", allow_redirects=False)
    assert after.status_code == 200 and "ada@example.com" in after.text


def test_a_form_without_its_csrf_token_is_refused(web):
    register(web)
    web.get("/login")
    for data in ({}, {"csrf_token": "forged"}):
        refused = web.post("/login", data={**data, "email": "ada@example.com", "password": PASSWORD})
        assert refused.status_code == 403
        assert "booking_session" not in refused.headers.get("Set-Cookie", "")


def test_web_login_failure_shows_one_message(web):
    register(web)
    form = web.get("/login")
    failed = web.post("/login", data={"csrf_token": csrf_of(form), "email": "ada@example.com",
                                      "password": "wrong password here"})
    assert failed.status_code == 401
    assert "The e-mail address or the password is not right" in failed.text


def test_bad_registrations_are_explained(web):
    weak = web.post("/api/v1/users", json={"email": "a@example.com", "password": "short", "full_name": "A"})
    assert weak.status_code == 400 and "password" in weak.json()["details"]
    unknown = web.post("/api/v1/users", json={"email": "a@example.com", "password": PASSWORD,
                                              "full_name": "A", "admin": True})
    assert unknown.status_code == 400 and unknown.json()["details"] == {"admin": ["Unknown field."]}
    not_json = web.post("/api/v1/users", data="{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    huge = web.post("/api/v1/users", json={"email": "a@example.com", "password": "x" * 70000, "full_name": "A"})
    assert huge.status_code == 413
    register(web)
    taken = web.post("/api/v1/users", json={"email": "ada@example.com", "password": PASSWORD + "x",
                                            "full_name": "Ada"})
    assert taken.status_code == 409 and taken.json()["error"] == "EMAIL_TAKEN"


def test_jwks_is_published(web):
    register(web)
    login(web)
    published = web.get("/.well-known/jwks.json").json()
    assert [key["alg"] for key in published["keys"]] == ["EdDSA"]
    assert all("d" not in key for key in published["keys"])


def test_the_nameko_shell_helpers_give_calls_a_token(stack, web):
    from types import SimpleNamespace

    from booking.shell import as_client
    from booking.shell import login as shell_login

    register(web)
    proxy = ClusterRpcProxy(stack)
    n = SimpleNamespace(rpc=proxy.start())
    try:
        with pytest.raises(Unauthorized):
            n.rpc.users.me()
        assert shell_login(n, "ada@example.com", PASSWORD)["email"] == "ada@example.com"
        assert n.rpc.users.update_profile(full_name="Ada King")["full_name"] == "Ada King"
        assert as_client(n, "developer", stack["OAUTH_CLIENTS"]["developer"]["secret"]) == "reports:render users:read"
        assert n.rpc.users.get(1)["full_name"] == "Ada King"
    finally:
        proxy.stop()


def test_the_development_outbox_lists_what_was_sent(stack, web):
    register(web)
    wait_for_message(stack["MAIL_DIR"], lambda m: m["To"] == "ada@example.com")
    outbox = web.get("/dev/outbox")
    assert outbox.status_code == 200 and "Welcome to Booking" in outbox.text
    message = web.get("/dev/outbox/0")
    assert "Hello Ada Lovelace" in message.text
    assert web.get("/dev/outbox/99").status_code == 404


def test_signing_keys_rotate_by_kid(stack, web):
    from booking.cli import rotate_signing_keys
    from tests.forged_tokens import segments

    register(web)
    before = login(web)["access_token"]
    new_kid = rotate_signing_keys(stack)
    after = login(web)["access_token"]
    assert segments(after)[0]["kid"] == new_kid != segments(before)[0]["kid"]
    published = {key["kid"] for key in web.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {new_kid, segments(before)[0]["kid"]}
    for token in (before, after):  # a token naming the new kid makes services fetch the keys again
        assert web.get("/api/v1/me", headers=web.bearer(token)).status_code == 200

    rotate_signing_keys(stack, retire_old=True)
    published = {key["kid"] for key in web.get("/.well-known/jwks.json").json()["keys"]}
    assert new_kid not in published and len(published) == 1
