import base64
import logging
from datetime import UTC, datetime

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking.kit.database import Database
from booking.kit.errors import BookingError, ValidationFailed
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.mail import KeptMail, Mailer
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import load
from booking.kit.sealed import unseal
from booking.users import emails, passwords
from booking.users.exceptions import EmailTaken, InvalidCredentials, UserNotFound, WeakPassword
from booking.users.models import Base, SentEmail, User
from booking.users.schemas import (
    CredentialsRequest,
    MakeManagerRequest,
    ProfileUpdate,
    RegisterRequest,
    UserIdRequest,
    UserIdsRequest,
    UserRegisteredEvent,
    UserSchema,
    normalise_email,
)

log = logging.getLogger(__name__)

# how often e-mails left unsent are looked for
SWEEP_SECONDS = 15
# an e-mail to send once for an event (older rows, without a kind, only record a sending)
EMAILS = KeptMail(SentEmail.key, SentEmail.sent_at, SentEmail.claimed_at, SentEmail.kind.is_not(None))


class UsersService(Pingable):
    """Accounts: who people are, and the e-mails they get."""

    name = "users"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    caller = CallerIdentity()
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("user_registered")
    mailer = Mailer()
    config = Config()
    reservations = ServiceRpc("reservations", as_service=True)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def register(self, email, password, full_name):
        """Open an account. Public: no token needed.

        Takes email, password (at least 12 characters, not a common one; in the
        clear, or sealed as the gateway sends it: booking.kit.sealed) and
        full_name. Returns the user {id, email, full_name, created_at} and emits
        `user_registered`. An e-mail that has an account is EmailTaken, whatever
        the password: registering never tells whether a password is right (a
        retried request that did open the account gets EmailTaken: log in).
        Raises ValidationFailed, WeakPassword, EmailTaken.
        """
        fields = {"email": email, "password": self._unsealed(password), "full_name": full_name}
        try:
            request = load(RegisterRequest(), fields)
        except ValidationFailed as invalid:  # every problem at once: the password's too
            if isinstance(fields["password"], str) and "password" not in invalid.details:
                try:
                    passwords.check_policy(fields["password"], email if isinstance(email, str) else "")
                except WeakPassword as weak:
                    invalid.details.update(weak.details)
            raise
        passwords.check_policy(request["password"], request["email"])
        if self._find(request["email"]) is not None:
            raise EmailTaken(details={"email": "Taken."})
        # hash before the transaction: it takes a while and holds no lock
        password_hash = passwords.hash_password(request["password"])
        try:
            with self.db.get_session() as session:
                user = User(email=request["email"], full_name=request["full_name"],
                            password_hash=password_hash, created_at=datetime.now(UTC))
                session.add(user)
                session.flush()
                self.outbox.add(session, "user_registered", UserRegisteredEvent().dump(
                    {"user_id": user.id, "email": user.email, "full_name": user.full_name}), aggregate=user.id)
                return UserSchema().dump(user)
        except IntegrityError:  # a concurrent twin registered the address first
            raise EmailTaken(details={"email": "Taken."}) from None

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
    def get_many(self, user_ids):
        """{user id (as a string): account} of the accounts among `user_ids` (at most
        1,000); unknown ids are left out. Needs scope `users:read`."""
        self.caller.require("users:read")
        request = load(UserIdsRequest(), {"user_ids": user_ids})
        with self.db.get_session() as session:
            found = session.scalars(select(User).where(User.id.in_(set(request["user_ids"]))))
            return {str(user.id): UserSchema().dump(user) for user in found}

    @rpc(expected_exceptions=BookingError)
    def make_manager(self, email):
        """The account of `email` may now manage hotels (search keeps which: its
        `grant_manager`); an operator stays one. Needs scope `admin`. Returns the
        account. Raises UserNotFound (the person signs up first)."""
        self.caller.require("admin")
        request = load(MakeManagerRequest(), {"email": email})
        with self.db.get_session() as session:
            user = session.scalar(select(User).where(User.email == normalise_email(request["email"])))
            if user is None:
                raise UserNotFound(details={"email": "No account has this e-mail address: sign up first."})
            if user.role == "guest":
                user.role = "manager"
            return UserSchema().dump(user)

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
        self._send_once(f"welcome:{payload['user_id']}", "welcome", payload["user_id"], {})

    @event_handler("reservations", "reservation_confirmed")
    def send_confirmation(self, reservation):
        """E-mail the guest that the booking is confirmed, with its PDF, once per reservation."""
        self._send_once(f"confirmation:{reservation['reservation_id']}", "confirmation",
                        reservation["user_id"], reservation)

    @event_handler("reservations", "reservation_changed")
    def send_change(self, reservation):
        """E-mail the booking as changed, with its new confirmation, once per version."""
        self._send_once(f"change:{reservation['reservation_id']}:{reservation['version']}", "changed",
                        reservation["user_id"], reservation)

    @event_handler("reservations", "reservation_cancelled")
    def send_cancellation(self, reservation):
        """E-mail a guest who cancelled what is refunded and kept, once per reservation."""
        if reservation.get("reason") == "cancelled_by_guest":
            self._send_once(f"cancellation:{reservation['reservation_id']}", "cancelled", reservation["user_id"],
                            reservation)

    @timer(interval=SWEEP_SECONDS, eager=True)
    def send_unsent(self):
        """Send the e-mails that a dead worker or a refused SMTP delivery left unsent."""
        with self.db.get_session() as session:
            due = list(session.scalars(select(SentEmail.key).where(EMAILS.due())))
        for key in due:
            try:
                self._send(key)
            except Exception:
                log.warning("the e-mail %s is still not sent; the next sweep tries again", key)

    def _send_once(self, key, kind, user_id, event):
        """Keep the e-mail (once per key, even with twins running at once), then send it."""
        try:
            with self.db.get_session() as session:
                session.add(SentEmail(key=key, kind=kind, user_id=user_id, event=event))
        except IntegrityError:
            pass  # kept already: sent, being sent by a live worker, or due
        self._send(key)

    def _send(self, key):
        """Claim the e-mail, send it, mark it sent; if it does not go, the claim is
        given back for the sweep."""
        with self.db.get_session() as session:
            mine = EMAILS.claim(session, key)
            email = session.get(SentEmail, key) if mine else None
            user = session.get(User, email.user_id) if email else None
            if email is not None and user is None:
                email.sent_at = mine  # no such account: there is no one to write to
            message = (email.kind, email.event, user.id, user.email, user.full_name) if user else None
        if message is None:
            return
        kind, event, user_id, to, full_name = message
        public_url = self.config.get("PUBLIC_URL", "")
        try:
            if kind == "welcome":
                subject, text, html = emails.welcome(full_name, public_url)
            else:
                subject, text, html = getattr(emails, kind)(full_name, event, public_url)
            # a confirmation, or a change, carries the booking's confirmation as it is now
            attachments = self._confirmation_pdf(event) if kind in ("confirmation", "changed") else []
            self.mailer.send(to, subject, text, html, attachments=attachments, key=key.replace(":", "-"))
        except Exception:
            with self.db.get_session() as session:
                EMAILS.give_back(session, key, mine)
            raise
        with self.db.get_session() as session:
            sent = datetime.now(UTC)
            if EMAILS.mark_sent(session, key, mine, sent) and kind == "welcome":
                session.get(User, user_id).welcome_sent_at = sent

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
