from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.identity import CallerIdentity
from booking.kit.mail import Mailer
from booking.kit.schemas import load
from booking.users import emails, passwords
from booking.users.exceptions import EmailTaken, InvalidCredentials, UserNotFound
from booking.users.models import Base, SentEmail, User
from booking.users.schemas import (
    CredentialsRequest,
    ProfileUpdate,
    RegisterRequest,
    UserIdRequest,
    UserRegisteredEvent,
    UserSchema,
    normalise_email,
)


class UsersService:
    """Accounts: who people are, and the e-mails they get."""

    name = "users"

    db = Database(Base)
    caller = CallerIdentity()
    dispatch = EventDispatcher()
    mailer = Mailer()
    config = Config()

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def register(self, email, password, full_name):
        """Open an account. Public: no token needed.

        Takes email, password (at least 12 characters, not a common one) and
        full_name. Returns the user {id, email, full_name, created_at} and emits
        `user_registered`. Registering again with the same e-mail and password
        returns the same account (a retried request changes nothing).
        Raises ValidationFailed, WeakPassword, EmailTaken.
        """
        request = load(RegisterRequest(), {"email": email, "password": password, "full_name": full_name})
        passwords.check_policy(request["password"], request["email"])
        existing = self._find(request["email"])
        if existing is None:
            # hash before the transaction: it takes a while and holds no lock
            password_hash = passwords.hash_password(request["password"])
            try:
                with self.db.get_session() as session:
                    user = User(email=request["email"], full_name=request["full_name"],
                                password_hash=password_hash, created_at=datetime.now(timezone.utc))
                    session.add(user)
                    session.flush()
                    registered = UserSchema().dump(user)
            except IntegrityError:
                existing = self._find(request["email"])  # registered by a concurrent twin
        if existing is not None:
            if not passwords.verify_password(existing.password_hash, request["password"]):
                raise EmailTaken(details={"email": "Taken."})
            registered = UserSchema().dump(existing)
        # sent again on a retry, in case the first one was lost; the handler is idempotent
        self.dispatch("user_registered", UserRegisteredEvent().dump(
            {"user_id": registered["id"], "email": registered["email"], "full_name": registered["full_name"]}))
        return registered

    @rpc(expected_exceptions=BookingError)
    def me(self):
        """The caller's own account. Needs a user token with scope `account`."""
        caller = self.caller.require("account")
        return self._get(caller.user_id)

    @rpc(expected_exceptions=BookingError)
    def get(self, user_id):
        """Any account by id. Needs scope `users:read` (services, developers).
        Raises UserNotFound."""
        self.caller.require("users:read")
        return self._get(load(UserIdRequest(), {"user_id": user_id})["user_id"])

    @rpc(expected_exceptions=BookingError)
    def update_profile(self, full_name):
        """Change the caller's full_name. Needs scope `account`. Returns the account."""
        caller = self.caller.require("account")
        request = load(ProfileUpdate(), {"full_name": full_name})
        with self.db.get_session() as session:
            user = session.get(User, caller.user_id)
            if user is None:
                raise UserNotFound()
            user.full_name = request["full_name"].strip()
            return UserSchema().dump(user)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def verify_password(self, email, password):
        """The account whose e-mail and password these are. Only for the auth
        service (scope `users:verify_password`). Raises InvalidCredentials, which
        is the same for an unknown e-mail and a wrong password."""
        self.caller.require("users:verify_password")
        request = load(CredentialsRequest(), {"email": email, "password": password})
        user = self._find(normalise_email(request["email"]))
        if not passwords.verify_password(user.password_hash if user else None, request["password"]):
            raise InvalidCredentials()
        return UserSchema().dump(user)

    @event_handler("users", "user_registered")
    def send_welcome(self, payload):
        """Welcome a new account by e-mail, once however often the event comes."""
        with self.db.get_session() as session:
            user = session.get(User, payload["user_id"])
            if user is None or user.welcome_sent_at is not None:
                return
            to, full_name = user.email, user.full_name
        # no transaction is open while the mail goes out; a crash between the two
        # sends the welcome again, which beats never sending it
        subject, text, html = emails.welcome(full_name, self.config.get("PUBLIC_URL", ""))
        self.mailer.send(to, subject, text, html)
        with self.db.get_session() as session:
            session.get(User, payload["user_id"]).welcome_sent_at = datetime.now(timezone.utc)

    @event_handler("reservations", "reservation_confirmed")
    def send_confirmation(self, reservation):
        """E-mail the guest that the booking is confirmed, once per reservation."""
        key = f"confirmation:{reservation['reservation_id']}"
        with self.db.get_session() as session:
            if session.get(SentEmail, key) is not None:
                return
            user = session.get(User, reservation["user_id"])
            if user is None:
                return
            to, full_name = user.email, user.full_name
        subject, text, html = emails.confirmation(full_name, reservation, self.config.get("PUBLIC_URL", ""))
        self.mailer.send(to, subject, text, html)
        with self.db.get_session() as session:
            session.merge(SentEmail(key=key, sent_at=datetime.now(timezone.utc)))

    @rpc
    def ping(self):
        """"pong": the service is up and consuming."""
        return "pong"

    def _find(self, email):
        with self.db.get_session() as session:
            user = session.scalar(select(User).where(User.email == email))
            if user is not None:
                session.expunge(user)
            return user

    def _get(self, user_id):
        with self.db.get_session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise UserNotFound(details={"user_id": str(user_id)})
            return UserSchema().dump(user)
