import base64
import logging
from contextlib import contextmanager
from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.events import EventDispatcher, event_handler
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.mail import Mailer
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import load
from booking.kit.sealed import unseal
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

log = logging.getLogger(__name__)


class UsersService(Pingable):
    """Accounts: who people are, and the e-mails they get."""

    name = "users"

    db = Database(Base)
    caller = CallerIdentity()
    dispatch = EventDispatcher()
    mailer = Mailer()
    config = Config()
    reservations = ServiceRpc("reservations", as_service=True)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def register(self, email, password, full_name):
        """Open an account. Public: no token needed.

        Takes email, password (at least 12 characters, not a common one; in the
        clear, or sealed as the gateway sends it: booking.kit.sealed) and
        full_name. Returns the user {id, email, full_name, created_at} and emits
        `user_registered`. Registering again with the same e-mail and password
        returns the same account (a retried request changes nothing).
        Raises ValidationFailed, WeakPassword, EmailTaken.
        """
        request = load(RegisterRequest(), {"email": email, "password": self._unsealed(password),
                                           "full_name": full_name})
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
        request = load(CredentialsRequest(), {"email": email, "password": self._unsealed(password)})
        user = self._find(normalise_email(request["email"]))
        if not passwords.verify_password(user.password_hash if user else None, request["password"]):
            raise InvalidCredentials()
        return UserSchema().dump(user)

    def _unsealed(self, password):
        """The password as typed: the gateway seals it for the broker (booking.kit.sealed)."""
        try:
            return unseal(password, self.config)
        except ValueError:
            log.error("A password sealed with another CREDENTIALS_KEY than users' came in")
            raise InvalidCredentials() from None

    @event_handler("users", "user_registered")
    def send_welcome(self, payload):
        """Welcome a new account by e-mail, once however often the event comes."""
        with self.db.get_session() as session:
            # the first handler to claim it sends it, even with twins running at once
            claimed = session.execute(
                update(User).where(User.id == payload["user_id"], User.welcome_sent_at.is_(None))
                .values(welcome_sent_at=datetime.now(timezone.utc))).rowcount
            user = session.get(User, payload["user_id"]) if claimed else None
            to, full_name = (user.email, user.full_name) if user else (None, None)
        if to is None:
            return
        subject, text, html = emails.welcome(full_name, self.config.get("PUBLIC_URL", ""))
        with self._unclaimed_on_failure(lambda session: setattr(session.get(User, payload["user_id"]),
                                                                "welcome_sent_at", None)):
            self.mailer.send(to, subject, text, html, key=f"welcome-{payload['user_id']}")

    @event_handler("reservations", "reservation_confirmed")
    def send_confirmation(self, reservation):
        """E-mail the guest that the booking is confirmed, with its PDF, once per reservation."""
        key = f"confirmation:{reservation['reservation_id']}"
        try:
            with self.db.get_session() as session:
                session.add(SentEmail(key=key, sent_at=datetime.now(timezone.utc)))
                user = session.get(User, reservation["user_id"])
                to, full_name = (user.email, user.full_name) if user else (None, None)
        except IntegrityError:
            return  # claimed (sent) already
        if to is None:
            return
        subject, text, html = emails.confirmation(full_name, reservation, self.config.get("PUBLIC_URL", ""))
        with self._unclaimed_on_failure(lambda session: session.delete(session.get(SentEmail, key))):
            self.mailer.send(to, subject, text, html, attachments=self._confirmation_pdf(reservation),
                             key=f"confirmation-{reservation['reservation_id']}")

    @contextmanager
    def _unclaimed_on_failure(self, unclaim):
        """If the mail does not go, give up the claim so a redelivery tries again."""
        try:
            yield
        except Exception:
            with self.db.get_session() as session:
                unclaim(session)
            raise

    def _confirmation_pdf(self, reservation):
        """The PDF to attach; without it the e-mail still goes (the PDF stays in My bookings)."""
        try:
            document = self.reservations.confirmation_pdf(reservation["reservation_id"])
        except BookingError:
            log.warning("sending the confirmation of %s without its PDF", reservation["reservation_id"])
            return []
        return [(document["filename"], base64.b64decode(document["content_base64"]), "application/pdf")]

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
