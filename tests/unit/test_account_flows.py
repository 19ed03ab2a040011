"""The account flows of UsersService with worker_factory (as tests/unit/test_users_service.py):
a forgotten password, an address to verify, a new password, a new address. E-mails are
the `mailer` mock's calls; their links are read back from the text, as a guest would."""
# ruff: noqa: F811 (fixtures imported by name come back as test arguments)
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from booking.users import limits
from booking.users.exceptions import (
    EmailTaken,
    InvalidCredentials,
    InvalidResetToken,
    InvalidVerificationToken,
    TooManyRequests,
    WeakPassword,
    WrongPassword,
)
from booking.users.links import hash_token
from booking.users.models import AccountToken, SentEmail, User
from tests.unit.recorded import dispatched
from tests.unit.test_users_service import AUTH_SERVICE, PASSWORD, calling_as, db, register_ada, worker  # noqa: F401

NEW_PASSWORD = "difference engine 1822"


@pytest.fixture
def users(db):
    return worker(db)


def deliver_mail(users):
    """What the relay would publish of `account_mail_requested` reaches its handler
    (every event so far: a handler sends each e-mail once, however often it comes)."""
    for event in dispatched(users, "account_mail_requested"):
        users.send_account_mail(event)


def mails(users, to=None):
    """[(to, subject, text)] of every e-mail sent (to `to`)."""
    sent = [(c.args[0], c.args[1], c.args[2]) for c in users.mailer.send.call_args_list]
    return [mail for mail in sent if to is None or mail[0] == to]


def token_in(text, path):
    return re.search(rf"https://booking\.test{path}\?token=([A-Za-z0-9_-]+)", text).group(1)


def reset_link(users, email="ada@example.com", client_address="10.0.0.1"):
    """Ask for a reset and read the token of the link that arrives."""
    users.request_password_reset(email=email, client_address=client_address)
    deliver_mail(users)
    to, subject, text = mails(users)[-1]
    assert (to, subject) == (email, "Choose a new Booking password")
    return token_in(text, "/reset-password")


def logs_in(db, password, email="ada@example.com"):
    try:
        worker(db, AUTH_SERVICE).verify_password(email=email, password=password)
    except InvalidCredentials:
        return False
    return True


def stored(db, model):
    with db.get_session() as session:
        return [{column.name: getattr(row, column.name) for column in model.__table__.columns}
                for row in session.scalars(select(model))]


# -- a forgotten password ------------------------------------------------------------------

def test_a_reset_e_mails_a_link_whose_token_is_stored_only_as_its_hash(users, db):
    register_ada(users)
    token = reset_link(users)

    [row] = [row for row in stored(db, AccountToken) if row["purpose"] == "password_reset"]
    assert row["token_hash"] == hash_token(token) and len(token) >= 43
    assert not any(token in str(value) for model in (AccountToken, SentEmail, User)
                   for stored_row in stored(db, model) for value in stored_row.values())
    lifetime = row["expires_at"] - row["created_at"]
    assert lifetime == timedelta(minutes=30)


def test_unknown_and_known_addresses_get_the_same_answer_and_only_the_known_one_an_e_mail(users, db):
    register_ada(users)
    known = users.request_password_reset(email="ada@example.com", client_address="10.0.0.1")
    unknown = users.request_password_reset(email="nobody@example.com", client_address="10.0.0.1")
    deliver_mail(users)

    assert known == unknown is None
    assert [to for to, _, _ in mails(users)] == ["ada@example.com"]
    assert [mail["kind"] for mail in dispatched(users, "account_mail_requested")] == ["password_reset"]
    assert not [row for row in stored(db, SentEmail) if "nobody" in str(row)]


def test_a_reset_token_works_once_and_signs_out_the_older_password(users, db):
    user = register_ada(users)
    token = reset_link(users)

    users.reset_password(token=token, password=NEW_PASSWORD)
    with pytest.raises(InvalidResetToken):
        users.reset_password(token=token, password="a third password, 1833")

    assert logs_in(db, NEW_PASSWORD) and not logs_in(db, PASSWORD)
    assert dispatched(users, "password_changed") == [{"user_id": user["id"], "credentials_version": 1}]


def test_a_reset_token_does_not_work_after_30_minutes(users, db):
    register_ada(users)
    token = reset_link(users)
    with db.get_session() as session:  # 30 minutes and a second later
        session.execute(update(AccountToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))

    with pytest.raises(InvalidResetToken):
        users.reset_password(token=token, password=NEW_PASSWORD)
    assert logs_in(db, PASSWORD) and dispatched(users, "password_changed") == []


def test_a_newer_reset_link_voids_the_older_one(users, db):
    register_ada(users)
    older = reset_link(users, client_address="10.0.0.1")
    newer = reset_link(users, client_address="10.0.0.2")

    with pytest.raises(InvalidResetToken):
        users.reset_password(token=older, password=NEW_PASSWORD)
    users.reset_password(token=newer, password=NEW_PASSWORD)
    assert logs_in(db, NEW_PASSWORD)


def test_a_reset_token_changes_only_its_own_accounts_password(users, db):
    register_ada(users)
    register_ada(users, email="grace@example.com")
    token = reset_link(users, email="grace@example.com")

    users.reset_password(token=token, password=NEW_PASSWORD)

    assert logs_in(db, NEW_PASSWORD, email="grace@example.com")
    assert logs_in(db, PASSWORD, email="ada@example.com") and not logs_in(db, NEW_PASSWORD, "ada@example.com")


def test_a_wrong_used_expired_or_tampered_token_gets_one_answer_with_no_hint(users, db):
    register_ada(users)
    used = reset_link(users)
    users.reset_password(token=used, password=NEW_PASSWORD)
    expired = reset_link(users, client_address="10.0.0.2")
    with db.get_session() as session:
        session.execute(update(AccountToken).where(AccountToken.token_hash == hash_token(expired))
                        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    live = reset_link(users, client_address="10.0.0.3")
    tampered = live[:-1] + ("A" if live[-1] != "A" else "B")

    answers = []
    for token in (used, expired, tampered, "not-a-token", "x" * 900):
        with pytest.raises(InvalidResetToken) as refusal:
            users.reset_password(token=token, password="a third password, 1833")
        answers.append((refusal.value.http_status, refusal.value.to_dict()))
    assert answers == [(400, {"error": "INVALID_RESET_TOKEN",
                              "message": "This password reset link is not valid: ask for a new one",
                              "details": {}})] * 5
    assert logs_in(db, NEW_PASSWORD)
    users.reset_password(token=live, password="a third password, 1833")  # untouched by its tampered twin


def test_a_weak_new_password_is_refused_and_leaves_the_token_usable(users, db):
    register_ada(users)
    token = reset_link(users)

    with pytest.raises(WeakPassword) as refusal:
        users.reset_password(token=token, password="password1234")
    assert refusal.value.details["password"]
    users.reset_password(token=token, password=NEW_PASSWORD)


def test_resets_are_limited_per_address_known_or_not_and_per_client_address(users, db):
    register_ada(users)
    for email in ("ada@example.com", "nobody@example.com"):
        for attempt in range(3):
            users.request_password_reset(email=email, client_address=f"10.0.1.{attempt}")
        with pytest.raises(TooManyRequests) as refusal:
            users.request_password_reset(email=email, client_address="10.0.2.1")
        assert refusal.value.http_status == 429
        assert 0 < int(refusal.value.details["retry_after"]) <= 900
    for attempt in range(20):  # a refused request counted nothing: 10.0.2.1 has 20 to go
        users.request_password_reset(email=f"someone{attempt}@example.com", client_address="10.0.2.1")
    with pytest.raises(TooManyRequests):
        users.request_password_reset(email="someone-else@example.com", client_address="10.0.2.1")
    deliver_mail(users)
    assert len(mails(users, "ada@example.com")) == 3


def test_the_reset_limit_window_moves_on(users, db):
    register_ada(users)
    for _ in range(3):
        users.request_password_reset(email="ada@example.com", client_address="10.0.0.1")
    with db.get_session() as session:  # the window has passed
        session.execute(update(limits.RequestCount).values(at=datetime.now(UTC) - limits.WINDOW))
    users.request_password_reset(email="ada@example.com", client_address="10.0.0.1")


def test_a_requested_e_mail_is_sent_once_however_often_its_event_comes(users):
    register_ada(users)
    users.request_password_reset(email="ada@example.com", client_address="10.0.0.1")
    [event] = dispatched(users, "account_mail_requested")

    for _ in range(3):
        users.send_account_mail(event)
    users.send_unsent()

    assert len(mails(users, "ada@example.com")) == 1


# -- verifying an address ----------------------------------------------------------------

def verification_link(users, to="ada@example.com"):
    to_, _, text = mails(users, to)[-1]
    return token_in(text, "/verify-email")


def test_the_welcome_carries_the_verification_link_and_the_link_verifies_the_address(users, db):
    user = register_ada(users)
    [welcome] = dispatched(users, "user_registered")
    users.send_welcome(welcome)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))
    assert me.me()["email_verified"] is False

    token = verification_link(users)
    verified = users.verify_email(token=token)

    assert verified["email_verified"] is True and me.me()["email_verified"] is True
    assert users.verify_email(token=token) == verified  # the same link again: the same answer
    with pytest.raises(InvalidVerificationToken):
        users.verify_email(token=token[:-2])
    [row] = stored(db, AccountToken)
    assert row["expires_at"] - row["created_at"] == timedelta(days=7)


def test_a_verification_link_sent_again_voids_the_first_and_is_limited(users, db):
    user = register_ada(users)
    users.send_welcome(dispatched(users, "user_registered")[0])
    first = verification_link(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))

    assert me.send_verification() == {"sent": True}
    deliver_mail(me)
    again = verification_link(me)
    with pytest.raises(InvalidVerificationToken):
        users.verify_email(token=first)
    users.verify_email(token=again)
    assert me.send_verification() == {"sent": False}


def test_sending_the_verification_link_again_is_limited_per_account(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))
    for _ in range(3):
        me.send_verification()
    with pytest.raises(TooManyRequests):
        me.send_verification()


# -- a new password --------------------------------------------------------------------------

def test_changing_the_password_needs_the_current_one_and_signs_out_the_older_tokens(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))

    with pytest.raises(WrongPassword) as wrong:
        me.change_password(current_password="not my password at all", new_password=NEW_PASSWORD)
    assert (wrong.value.http_status, list(wrong.value.details)) == (403, ["current_password"])
    with pytest.raises(WeakPassword) as weak:
        me.change_password(current_password=PASSWORD, new_password="password1234")
    assert list(weak.value.details) == ["new_password"]
    assert dispatched(me, "password_changed") == []

    me.change_password(current_password=PASSWORD, new_password=NEW_PASSWORD)

    assert logs_in(db, NEW_PASSWORD) and not logs_in(db, PASSWORD)
    assert dispatched(me, "password_changed") == [{"user_id": user["id"], "credentials_version": 1}]


def test_wrong_current_passwords_are_limited(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))
    for _ in range(5):
        with pytest.raises(WrongPassword):
            me.change_password(current_password="guess guess guess", new_password=NEW_PASSWORD)
    with pytest.raises(TooManyRequests):
        me.change_password(current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert logs_in(db, PASSWORD)


# -- a new address ---------------------------------------------------------------------------

def test_a_new_address_replaces_the_old_only_once_verified_and_the_old_one_is_told(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))

    with pytest.raises(WrongPassword):
        me.change_email(password="not my password at all", new_email="ada@lovelace.example")
    answer = me.change_email(password=PASSWORD, new_email=" Ada@Lovelace.example ")
    assert (answer["email"], answer["pending_email"]) == ("ada@example.com", "ada@lovelace.example")
    deliver_mail(me)
    assert me.me()["email"] == "ada@example.com" and logs_in(db, PASSWORD)
    [(_, subject, _)] = mails(me, "ada@lovelace.example")
    assert subject == "Confirm your new e-mail address"

    changed = users.verify_email(token=verification_link(me, "ada@lovelace.example"))
    deliver_mail(users)

    assert (changed["email"], changed["email_verified"]) == ("ada@lovelace.example", True)
    assert logs_in(db, PASSWORD, email="ada@lovelace.example") and not logs_in(db, PASSWORD)
    [(_, told, text)] = mails(users, "ada@example.com")
    assert told == "Your Booking e-mail address has changed" and "ada@lovelace.example" in text


def test_a_new_address_another_account_has_is_refused(users, db):
    user = register_ada(users)
    register_ada(users, email="grace@example.com")
    me = worker(db, calling_as(f"user:{user['id']}", "account"))

    with pytest.raises(EmailTaken) as refusal:
        me.change_email(password=PASSWORD, new_email="grace@example.com")
    assert list(refusal.value.details) == ["new_email"]


def test_an_address_taken_after_the_link_was_sent_is_refused_and_the_link_stays(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))
    me.change_email(password=PASSWORD, new_email="ada@lovelace.example")
    deliver_mail(me)
    token = verification_link(me, "ada@lovelace.example")
    grace = register_ada(users, email="ada@lovelace.example")

    with pytest.raises(EmailTaken):
        users.verify_email(token=token)
    assert me.me()["email"] == "ada@example.com"
    # once the other account moves to another address, the link works
    other = worker(db, calling_as(f"user:{grace['id']}", "account"))
    other.change_email(password=PASSWORD, new_email="grace@example.com")
    deliver_mail(other)
    users.verify_email(token=verification_link(other, "grace@example.com"))
    assert users.verify_email(token=token)["email"] == "ada@lovelace.example"
