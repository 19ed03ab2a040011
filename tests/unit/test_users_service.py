"""UsersService with worker_factory: its database a throwaway SQLite file, its
caller a stand-in for the verified token, `dispatch` and `mailer` mocks."""
import base64
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import nameko_sqlalchemy
import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.database import create_db_engine
from booking.kit.errors import BookingError, Unauthorized, ValidationFailed
from booking.kit.identity import CallerOfWorker
from booking.kit.mail import MailNotSent
from booking.kit.migrations import upgrade
from booking.kit.tokens import Caller, MissingScope
from booking.users.exceptions import EmailTaken, InvalidCredentials, WeakPassword
from booking.users.models import SentEmail, User
from booking.users.passwords import PasswordHashing
from booking.users.service import UsersService
from tests.unit.recorded import dispatched, outbox_of

PASSWORD = "analytical engine 1843"
# at the test profile's cost, as the integration tests' users service
HASHING = PasswordHashing.from_config(load_config(PROJECT_ROOT / "config" / "test.yaml"))


class FakeCaller:
    """Stands in for `CallerOfWorker` with a token already verified: the request's `Caller`."""

    def __init__(self, caller):
        self.caller = caller

    def require(self, *scopes):
        return self.caller.require(*scopes)


def calling_as(subject, *scopes, client_id="web"):
    return FakeCaller(Caller(subject=subject, client_id=client_id, scopes=frozenset(scopes),
                             token_id="jti-1", expires_at=2_000_000_000))


AUTH_SERVICE = calling_as("client:auth", "users:verify_password", client_id="auth")


@pytest.fixture
def db(tmp_path):
    """Stands in for the Database provider, on a migrated SQLite file: each `get_session()`
    a new session that commits at the end of its `with` block, as nameko-sqlalchemy's."""
    uri = f"sqlite:///{tmp_path}/users.db"
    upgrade("users", uri)
    engine = create_db_engine(uri)
    yield SimpleNamespace(get_session=sessionmaker(engine, class_=nameko_sqlalchemy.database.Session))
    engine.dispose()


def worker(db, caller=None):
    """A UsersService worker serving `caller`; by default a request that came without a
    token, which the real `CallerOfWorker` refuses without asking auth."""
    return worker_factory(UsersService, db=db, caller=caller or CallerOfWorker(auth=None, authorization=None),
                          config={"PUBLIC_URL": "https://booking.test"}, outbox=outbox_of(UsersService),
                          passwords=HASHING)


@pytest.fixture
def users(db):
    return worker(db)


def register_ada(users, email="ada@example.com", password=PASSWORD):
    return users.register(email=email, password=password, full_name="Ada Lovelace")


def stored_users(db):
    with db.get_session() as session:
        return [(user.email, user.password_hash) for user in session.scalars(select(User))]


def test_register_opens_an_account(users):
    user = register_ada(users)

    assert set(user) == {"id", "email", "full_name", "created_at", "role", "email_verified", "deleted"}
    assert (user["email"], user["full_name"], user["role"]) == ("ada@example.com", "Ada Lovelace", "guest")
    assert user["email_verified"] is False and user["deleted"] is False
    assert user["created_at"].endswith("+00:00")


def test_register_normalises_the_email(users, db):
    assert register_ada(users, email="  Ada@Example.COM ")["email"] == "ada@example.com"
    assert [email for email, _ in stored_users(db)] == ["ada@example.com"]


def test_register_stores_an_argon2id_hash_not_the_password(users, db):
    register_ada(users)

    [(_, password_hash)] = stored_users(db)
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash


def test_register_records_the_new_accounts_event_with_it(users):
    user = register_ada(users)

    assert dispatched(users) == [{"user_id": user["id"], "email": "ada@example.com", "full_name": "Ada Lovelace"}]


def test_registering_a_taken_email_never_checks_the_password(users, db, monkeypatch):
    """Registering is public and not rate limited: it must not tell whether a
    password is right, so the same password and another get the same answer."""
    register_ada(users)
    checked = []
    monkeypatch.setattr(users.passwords, "verify", lambda *args: checked.append(args) or True)

    answers = []
    for password in (PASSWORD, "difference engine 1822"):
        with pytest.raises(EmailTaken) as refusal:
            register_ada(users, email="ADA@example.com", password=password)
        answers.append(refusal.value.to_dict())
    assert answers[0] == answers[1] and checked == []
    assert len(stored_users(db)) == 1
    assert len(dispatched(users, "user_registered")) == 1


def test_registering_a_taken_email_with_another_password_is_refused(users, db):
    register_ada(users)

    with pytest.raises(EmailTaken) as refusal:
        register_ada(users, password="difference engine 1822")
    assert refusal.value.http_status == 409
    assert len(stored_users(db)) == 1
    assert len(dispatched(users)) == 1


def test_a_weak_password_opens_no_account(users, db):
    with pytest.raises(WeakPassword) as refusal:
        register_ada(users, password="password1234")

    assert refusal.value.details["password"] == ["This password is too common or too easy to guess."]
    assert stored_users(db) == []
    assert dispatched(users) == []


def test_me_needs_a_token(users):
    register_ada(users)

    with pytest.raises(Unauthorized) as refusal:
        users.me()
    assert (refusal.value.http_status, refusal.value.message) == (401, "This needs an access token")


def test_me_is_the_callers_own_account(users, db):
    user = register_ada(users)
    register_ada(users, email="grace@example.com")

    assert worker(db, calling_as(f"user:{user['id']}", "account", "bookings")).me() == user


def test_me_needs_the_account_scope(users, db):
    user = register_ada(users)

    with pytest.raises(MissingScope) as refusal:
        worker(db, calling_as(f"user:{user['id']}", "bookings")).me()
    assert refusal.value.details == {"required": "account"}


@pytest.mark.parametrize("caller, refusal", [
    (None, Unauthorized),
    (calling_as("user:1", "account", "bookings"), MissingScope),
    (calling_as("client:developer", "users:read", client_id="developer"), MissingScope),
])
def test_verify_password_is_only_for_the_auth_service(users, db, caller, refusal):
    register_ada(users)

    with pytest.raises(refusal) as refused:
        worker(db, caller).verify_password(email="ada@example.com", password=PASSWORD)
    assert type(refused.value) is refusal


def test_verify_password_gives_the_account_of_the_right_credentials(users, db):
    user = register_ada(users)
    auth = worker(db, AUTH_SERVICE)

    # with the version of the password, which auth keeps with the tokens it issues
    assert auth.verify_password(email=" Ada@Example.com", password=PASSWORD) == {**user, "credentials_version": 0}


def test_an_unknown_email_and_a_wrong_password_are_refused_alike(users, db):
    register_ada(users)
    auth = worker(db, AUTH_SERVICE)

    refusals = []
    for email, password in [("nobody@example.com", PASSWORD), ("ada@example.com", "analytical engine 1842")]:
        with pytest.raises(InvalidCredentials) as refusal:
            auth.verify_password(email=email, password=password)
        refusals.append(refusal.value.to_dict())
    assert refusals[0] == refusals[1] == {
        "error": "INVALID_CREDENTIALS", "message": "The e-mail address or the password is not right",
        "details": {}}


def test_the_welcome_mail_is_sent_once_however_often_the_event_comes(users):
    user = register_ada(users)
    [event] = dispatched(users)

    users.send_welcome(event)
    users.send_welcome(event)

    users.mailer.send.assert_called_once()
    to, subject, text, html = users.mailer.send.call_args.args
    assert (to, subject) == ("ada@example.com", "Welcome to Booking")
    assert "Hello Ada Lovelace," in text and "https://booking.test" in html
    assert event["user_id"] == user["id"]


def test_a_welcome_for_an_unknown_account_sends_nothing(users, db):
    users.send_welcome({"user_id": 404, "email": "ghost@example.com", "full_name": "Ghost"})

    users.mailer.send.assert_not_called()
    with db.get_session() as session:
        assert session.scalar(select(func.count(User.id))) == 0


class WorkerDied(BaseException):
    """What SIGKILL does to a worker half-way through sending, as far as the database sees."""


CONFIRMED = {"reservation_id": "BKAAAA0001", "user_id": None, "hotel_name": "Le Petit Paris",
             "hotel_id": 3, "room_type": "double", "check_in": "2031-01-10", "check_out": "2031-01-12",
             "rooms": 1, "status": "confirmed", "total_minor": 30000, "currency": "EUR"}


def test_a_confirmation_whose_sender_died_is_sent_by_a_later_sweep_and_only_then(users, db):
    confirmed = {**CONFIRMED, "user_id": register_ada(users)["id"]}
    users.reservations.confirmation_pdf.side_effect = BookingError("no PDF today")
    users.mailer.send.side_effect = WorkerDied()
    with pytest.raises(WorkerDied):
        users.send_confirmation(confirmed)
    users.mailer.send.side_effect = None

    users.send_confirmation(confirmed)  # a redelivery while the claim is fresh: its worker may be sending
    users.send_unsent()
    assert users.mailer.send.call_count == 1
    with db.get_session() as session:  # the lease runs out
        session.execute(update(SentEmail).values(claimed_at=datetime.now(UTC) - timedelta(hours=1)))
    users.send_unsent()
    users.send_unsent()
    users.send_confirmation(confirmed)

    assert users.mailer.send.call_count == 2
    assert users.mailer.send.call_args.kwargs["key"] == "confirmation-BKAAAA0001"  # the same Message-ID


def test_a_welcome_the_mail_server_refused_is_sent_by_the_next_sweep(users, db):
    register_ada(users)
    [event] = dispatched(users)
    users.mailer.send.side_effect = MailNotSent("the mail server is down")
    with pytest.raises(MailNotSent):
        users.send_welcome(event)
    users.mailer.send.side_effect = None

    users.send_unsent()
    users.send_unsent()

    assert users.mailer.send.call_count == 2
    with db.get_session() as session:
        assert session.scalar(select(User.welcome_sent_at)) is not None


def test_a_change_is_e_mailed_once_per_version_with_the_new_confirmation(users):
    user_id = register_ada(users)["id"]
    users.reservations.confirmation_pdf.return_value = {
        "filename": "confirmation-BKAAAA0001.pdf", "content_base64": base64.b64encode(b"%PDF-1.7").decode()}
    changed = {**CONFIRMED, "user_id": user_id, "status": "confirmed", "version": 2, "rooms": 1,
               "total_minor": 1234500, "currency": "JPY", "refund_minor": 50000}
    for event in (changed, changed, {**changed, "version": 3}):
        users.send_change(event)

    subjects = [c.args[1] for c in users.mailer.send.call_args_list if c.args[1].startswith("Booking changed")]
    assert len(subjects) == 2
    text = users.mailer.send.call_args.args[2]
    assert "total 1234500 JPY" in text and "Refunded to your card so far: 50000 JPY." in text
    assert users.mailer.send.call_args.kwargs["attachments"][0][0] == "confirmation-BKAAAA0001.pdf"


def test_a_guest_who_cancelled_is_told_the_refund_and_what_the_policy_kept_once(users):
    user_id = register_ada(users)["id"]
    cancelled = {**CONFIRMED, "user_id": user_id, "status": "cancelled", "reason": "cancelled_by_guest",
                 "payment_id": "pay_1", "refund_minor": 25000, "kept_minor": 5000, "currency": "EUR"}
    users.send_cancellation(cancelled)
    users.send_cancellation(cancelled)
    users.send_cancellation({**cancelled, "reservation_id": "BKAAAA0002", "reason": "payment_failed"})

    [sent] = [c for c in users.mailer.send.call_args_list if c.args[1].startswith("Booking cancelled")]
    assert "Refunded to your card: 250.00 EUR. Kept under the cancellation policy: 50.00 EUR." in sent.args[2]
    assert sent.kwargs["attachments"] == []


def test_registration_says_every_problem_at_once(users, db):
    with pytest.raises(ValidationFailed) as refusal:
        users.register(email="not-an-address", password="password", full_name="")

    assert set(refusal.value.details) == {"email", "password", "full_name"}
    assert "Use at least 12 characters." in refusal.value.details["password"]
    assert stored_users(db) == []


def test_a_name_of_spaces_is_no_name(users, db):
    user = register_ada(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))

    with pytest.raises(ValidationFailed):
        me.update_profile(full_name="   ")
    assert me.update_profile(full_name="  Ada King  ")["full_name"] == "Ada King"
