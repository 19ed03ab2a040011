"""The account flows end to end: gateway, users and auth (and, for paying, every
service) in real containers on the real broker, e-mails through the real SMTP sink,
databases on SQLite and on PostgreSQL. A guest follows the links of the e-mails
that arrive, as in a mail client."""
# ruff: noqa: F811 (fixtures imported by name come back as test arguments)
import re

import pytest

from booking.devstack.mailsink import read_messages, wait_for_message
from tests import eventually
from tests.integration.test_accounts import (  # noqa: F401 (fixtures)
    PASSWORD,
    REVOCATIONS_MAX_AGE,
    Client,
    login,
    register,
    stack,
    stack_config,
    web,
)
from tests.integration.test_booking_saga import (  # noqa: F401 (fixtures)
    LAST_ROOMS_HOTEL,
    form_of,
    hold,
    pay,
    saga_config,
    start_containers,
)

NEW_PASSWORD = "difference engine 1822"


def link_in(stack, to, subject, path):
    """The token of the link to `path` in the e-mail `subject` to `to` (the newest such),
    after checking that the link is the site's own address."""
    def matches(message):
        return message["To"] == to and message["Subject"] == subject

    wait_for_message(stack["MAIL_DIR"], matches)
    message = [m for m in read_messages(stack["MAIL_DIR"]) if matches(m)][-1]
    text = message.get_body(("plain",)).get_content()
    link = re.search(rf"(\S+){re.escape(path)}\?token=([A-Za-z0-9_-]+)", text)
    assert link.group(1) == stack["PUBLIC_URL"]
    assert link.group(2) in message.get_body(("html",)).get_content()
    return link.group(2)


def me(web, tokens):
    return web.get("/api/v1/me", headers=web.bearer(tokens["access_token"]))


def refreshed(web, tokens):
    return web.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})


def signed_out(web, tokens):
    """Both of a session's tokens are refused (auth handles `password_changed` a moment after)."""
    def check():
        assert me(web, tokens).status_code == 401
        answer = refreshed(web, tokens)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    eventually(check, timeout=15 + REVOCATIONS_MAX_AGE)


def test_a_forgotten_password_is_reset_through_the_e_mailed_link_and_every_old_session_ends(stack, web):
    register(web)
    sessions = [login(web), login(web)]

    known = web.post("/api/v1/password-reset", json={"email": "Ada@Example.com"})
    unknown = web.post("/api/v1/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() and "30 minutes" in known.json()["message"]
    token = link_in(stack, "ada@example.com", "Choose a new Booking password", "/reset-password")

    weak = web.post("/api/v1/password-reset/confirm", json={"token": token, "password": "password1234"})
    assert weak.status_code == 400 and weak.json()["error"] == "WEAK_PASSWORD"
    done = web.post("/api/v1/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    again = web.post("/api/v1/password-reset/confirm", json={"token": token, "password": "a third password 1833"})
    tampered = web.post("/api/v1/password-reset/confirm", json={"token": token[:-1] + "x", "password": NEW_PASSWORD})
    assert again.status_code == tampered.status_code == 400
    assert again.json() == tampered.json() and again.json()["error"] == "INVALID_RESET_TOKEN"

    old = web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert old.status_code == 401
    for session in sessions:
        signed_out(web, session)
    fresh = login(web, password=NEW_PASSWORD)
    assert me(web, fresh).json()["email_verified"] is True  # the link came to the address
    assert not [m for m in read_messages(stack["MAIL_DIR"]) if m["To"] == "nobody@example.com"]


def test_reset_requests_are_limited_per_address_with_retry_after(stack, web):
    for _ in range(3):
        assert web.post("/api/v1/password-reset", json={"email": "nobody@example.com"}).status_code == 202
    limited = web.post("/api/v1/password-reset", json={"email": "nobody@example.com"})
    assert limited.status_code == 429 and limited.json()["error"] == "TOO_MANY_REQUESTS"
    assert 0 < int(limited.headers["Retry-After"]) <= 900


def test_changing_the_password_signs_out_every_other_session(stack, web):
    register(web)
    this, other = login(web), login(web)

    wrong = web.post("/api/v1/me/password",
                     json={"current_password": "not my password!!", "new_password": NEW_PASSWORD},
                     headers=web.bearer(this["access_token"]))
    assert wrong.status_code == 403 and wrong.json()["error"] == "WRONG_PASSWORD"
    changed = web.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                       headers=web.bearer(this["access_token"]))
    assert changed.status_code == 200, changed.text
    renewed = changed.json()

    signed_out(web, other)
    signed_out(web, this)  # the tokens it came with: the answer carries its new ones
    assert me(web, renewed).status_code == 200
    assert refreshed(web, renewed).status_code == 200
    assert web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 401


def test_a_new_e_mail_address_replaces_the_old_only_once_verified(stack, web):
    register(web)
    tokens = login(web)

    asked = web.post("/api/v1/me/email", json={"password": PASSWORD, "new_email": "ada@lovelace.example"},
                     headers=web.bearer(tokens["access_token"]))
    assert asked.status_code == 202, asked.text
    assert (asked.json()["email"], asked.json()["pending_email"]) == ("ada@example.com", "ada@lovelace.example")
    token = link_in(stack, "ada@lovelace.example", "Confirm your new e-mail address", "/verify-email")
    assert me(web, tokens).json()["email"] == "ada@example.com"

    verified = web.post("/api/v1/email-verification", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert (verified.json()["email"], verified.json()["email_verified"]) == ("ada@lovelace.example", True)
    told = wait_for_message(stack["MAIL_DIR"], lambda m: m["To"] == "ada@example.com"
                            and m["Subject"] == "Your Booking e-mail address has changed")
    assert "ada@lovelace.example" in told.get_body(("plain",)).get_content()
    assert login(web, email="ada@lovelace.example")["user"]["email"] == "ada@lovelace.example"
    assert web.post("/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 401


@pytest.fixture
def strict_config(saga_config):
    return {**saga_config, "REQUIRE_VERIFIED_EMAIL": True}


def test_with_require_verified_email_paying_waits_for_the_address_to_be_verified(container_factory, strict_config):
    start_containers(container_factory, strict_config)
    with Client(f"http://{strict_config['WEB_SERVER_ADDRESS']}") as guest:
        register(guest)
        tokens = login(guest)
        guest.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        assert guest.get("/api/v1/me").json()["email_verified"] is False
        reservation = hold(guest, "hold-1").json()

        refused = pay(guest, reservation["id"], "pay-1")
        assert refused.status_code == 403 and refused.json()["error"] == "EMAIL_NOT_VERIFIED"
        assert "verify your e-mail address" in refused.json()["message"]

        # the welcome's link is lost: the guest asks for another, and opens it
        assert guest.post("/api/v1/me/verification").json() == {"sent": True}
        token = link_in(strict_config, "ada@example.com", "Confirm your e-mail address", "/verify-email")
        assert guest.post("/api/v1/email-verification", json={"token": token}).json()["email_verified"] is True
        assert guest.post("/api/v1/me/verification").json() == {"sent": False}

        paid = pay(guest, reservation["id"], "pay-1")
        assert paid.status_code == 200 and paid.json()["status"] == "succeeded", paid.text
    assert LAST_ROOMS_HOTEL["hotel_id"] == reservation["hotel_id"]


def browser(stack):
    return Client(f"http://{stack['WEB_SERVER_ADDRESS']}")


def log_in_page(client, password=PASSWORD):
    page = client.get("/login")
    answer = client.post("/login?next=/account", data={**form_of(page, "/login"), "email": "ada@example.com",
                                                       "password": password})
    assert answer.status_code == 303, answer.text


def test_every_new_form_needs_its_csrf_token(stack, web):
    register(web)
    with browser(stack) as client:
        for path, fields in (("/forgot-password", {"email": "ada@example.com"}),
                             ("/reset-password", {"token": "x", "password": NEW_PASSWORD}),
                             ("/verify-email", {"token": "x"})):
            assert client.post(path, data=fields).status_code == 403, path
        log_in_page(client)
        account = client.get("/account")
        for action in ("/account/verification", "/account/password", "/account/email"):
            assert 'name="csrf_token"' in account.text[account.text.index(f'action="{action}"'):], action
            assert client.post(action, data={}).status_code == 403, action
    assert login(web)["user"]["email"] == "ada@example.com"  # nothing changed


def test_a_password_changed_on_the_account_page_ends_the_other_browsers_session(stack, web):
    register(web)
    with browser(stack) as here, browser(stack) as there:
        log_in_page(here)
        log_in_page(there)
        assert there.get("/account").status_code == 200

        account = here.get("/account")
        weak = here.post("/account/password", data={**form_of(account, "/account/password"),
                                                    "current_password": PASSWORD, "new_password": "password1234"})
        assert weak.status_code == 400 and 'aria-invalid="true"' in weak.text
        assert PASSWORD not in weak.text  # passwords never come back
        changed = here.post("/account/password", data={**form_of(account, "/account/password"),
                                                       "current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert changed.status_code == 303 and changed.headers["Location"] == "/account"
        assert "Your password is changed" in here.get("/account").text

        def ended():
            assert there.get("/account").status_code in (303, 401)
        eventually(ended, timeout=15 + REVOCATIONS_MAX_AGE)
        assert there.get("/account").status_code == 303  # logged out: to the login page
        assert here.get("/account").status_code == 200


def test_the_forgot_password_pages_lead_to_a_new_password(stack, web):
    register(web)
    with browser(stack) as client:
        assert 'href="/forgot-password"' in client.get("/login").text
        page = client.get("/forgot-password")
        sent = client.post("/forgot-password", data={**form_of(page, "/forgot-password"), "email": "ada@example.com"})
        assert sent.status_code == 303 and sent.headers["Location"] == "/forgot-password/sent"
        assert "Check your e-mail" in client.get("/forgot-password/sent").text
        token = link_in(stack, "ada@example.com", "Choose a new Booking password", "/reset-password")
        page = client.get(f"/reset-password?token={token}")
        assert form_of(page, "/reset-password")["token"] == token
        done = client.post("/reset-password", data={**form_of(page, "/reset-password"), "password": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["Location"] == "/login"
        assert "Your password is changed" in client.get("/login").text
        page = client.get(f"/reset-password?token={token}")  # the session is a new one: a new CSRF token
        spent = client.post("/reset-password", data={**form_of(page, "/reset-password"), "password": NEW_PASSWORD})
        assert spent.status_code == 400 and "This link does not work any more" in spent.text
    assert login(web, password=NEW_PASSWORD)
