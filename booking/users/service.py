import base64
import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from booking.kit.database import Database
from booking.kit.errors import BookingError, ValidationFailed
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog, current_worker, request_id_of
from booking.kit.mail import KeptMail, Mailer
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import UserIdRequest, load
from booking.kit.sealed import unseal
from booking.users import emails, erasure, export, limits, links
from booking.users.exceptions import (
    EmailTaken,
    ExportExpired,
    ExportNotFound,
    InvalidCredentials,
    InvalidResetToken,
    InvalidVerificationToken,
    StaysToCome,
    UserNotFound,
    WeakPassword,
    WrongPassword,
)
from booking.users.models import Base, DataExport, SentEmail, User
from booking.users.passwords import Passwords, check_policy
from booking.users.schemas import (
    AccountMailEvent,
    ChangeEmailRequest,
    ChangePasswordRequest,
    CredentialsRequest,
    DataExportSchema,
    DeleteAccountRequest,
    ExportIdRequest,
    ExportRequestedEvent,
    LinkTokenRequest,
    MakeManagerRequest,
    PasswordChangedEvent,
    PasswordResetRequest,
    ProfileUpdate,
    RegisterRequest,
    ResetPasswordRequest,
    UserDeletedEvent,
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
# the e-mails that carry a single-use link, made when the e-mail is sent (booking/users/links.py):
# kind -> (the token's purpose, the page it opens)
LINKS = {"welcome": ("verify_email", "/verify-email"), "verify_email": ("verify_email", "/verify-email"),
         "change_email": ("change_email", "/verify-email"), "password_reset": ("password_reset", "/reset-password")}
# how long a guest's data export can be downloaded
EXPORT_KEPT = timedelta(hours=24)


class UsersService(Pingable):
    """Accounts: who people are, and the e-mails they get."""

    name = "users"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    caller = CallerIdentity()
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("user_registered", "password_changed", "account_mail_requested", "user_deleted",
                    "export_requested")
    mailer = Mailer()
    passwords = Passwords()
    config = Config()
    reservations = ServiceRpc("reservations", as_service=True)
    payments = ServiceRpc("payments", as_service=True)

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
                    check_policy(fields["password"], email if isinstance(email, str) else "")
                except WeakPassword as weak:
                    invalid.details.update(weak.details)
            raise
        check_policy(request["password"], request["email"])
        if self._find(request["email"]) is not None:
            raise EmailTaken(details={"email": "Taken."})
        # hash before the transaction: it takes a while and holds no lock
        password_hash = self.passwords.hash(request["password"])
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
        if not self.passwords.verify(user.password_hash if user else None, request["password"]):
            raise InvalidCredentials()
        # auth keeps the version with the tokens it issues: a newer password signs them out
        return {**UserSchema().dump(user), "credentials_version": user.credentials_version}

    @rpc(expected_exceptions=BookingError)
    def request_password_reset(self, email, client_address=None):
        """Ask for a link to choose a new password. Public: no token needed.

        Takes email and client_address (the guest's, for the per-address limit).
        Returns None whether or not an account has this address, and as fast:
        for an account, it keeps an e-mail (`password_reset:<user id>:<request>`)
        and records `account_mail_requested`, whose handler sends the link (a
        token valid 30 minutes, which voids the account's older ones) after the
        answer. Raises TooManyRequests (429, `details.retry_after`) past 3 requests
        for an address or 20 from a client address within 15 minutes, counted
        whether or not the address has an account.
        """
        request = load(PasswordResetRequest(), {"email": email, "client_address": client_address})
        address = normalise_email(request["email"])
        counted = {"reset-email": limits.key("reset-email", address),
                   "reset-address": limits.key("reset-address", request["client_address"])}
        try:
            with self.db.get_session() as session:
                limits.count(session, counted, datetime.now(UTC))
                user = session.scalar(select(User).where(User.email == address))
                if user is not None:
                    self._keep_mail(session, "password_reset", user.id)
        except IntegrityError:
            pass  # a redelivered request: its twin kept the e-mail (and counted it)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("token", "password"))
    def reset_password(self, token, password):
        """Set a new password with the token of a reset link. Public: the token is the proof.

        Takes token and password (the registration policy applies; sealed or clear).
        Spends the token, sets the password, marks the address verified (the link
        came to it), and records `password_changed`: auth then signs out every
        session and token of the account issued before. Returns the account.
        Raises InvalidResetToken (400: wrong, used, expired, replaced by a newer
        one, or tampered with; the same answer for each), WeakPassword (the token
        is not spent).
        """
        request = load(ResetPasswordRequest(), {"token": token, "password": self._unsealed(password)})
        now = datetime.now(UTC)
        with self.db.get_session() as session:
            found = links.find(session, request["token"], ("password_reset",))
            email = found.email if links.usable(found, now) else None
        if email is None:
            raise InvalidResetToken()
        check_policy(request["password"], email)
        password_hash = self.passwords.hash(request["password"])  # before the transaction
        with self.db.get_session() as session:
            spent = links.redeem(session, request["token"], ("password_reset",), now)
            user = session.get(User, spent.user_id) if spent else None
            if user is None:
                raise InvalidResetToken()
            if user.email == spent.email and user.email_verified_at is None:
                user.email_verified_at = now
            self._set_password(session, user, password_hash)
            return UserSchema().dump(user)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("current_password", "new_password"))
    def change_password(self, current_password, new_password):
        """Change the caller's password. Needs scope `account`.

        Takes current_password and new_password (the registration policy applies;
        sealed or clear). Records `password_changed`: auth signs out every token
        of the account issued before, this caller's too (the gateway logs the
        current session in again with the new password). Returns the account.
        Raises WrongPassword (403, `details.current_password`), WeakPassword
        (`details.new_password`), TooManyRequests (5 wrong passwords in 15 minutes).
        """
        caller = self.caller.require("account")
        request = load(ChangePasswordRequest(), {"current_password": self._unsealed(current_password),
                                                 "new_password": self._unsealed(new_password)})
        user = self._user(caller.user_id)
        try:
            check_policy(request["new_password"], user.email)
        except WeakPassword as weak:
            raise WeakPassword(details={"new_password": weak.details["password"]}) from None
        counted = self._check_password(user, request["current_password"], "current_password")
        password_hash = self.passwords.hash(request["new_password"])
        with self.db.get_session() as session:
            limits.forget(session, counted)
            user = session.get(User, caller.user_id)
            self._set_password(session, user, password_hash)
            return UserSchema().dump(user)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def change_email(self, password, new_email):
        """Ask to change the caller's e-mail address. Needs scope `account`.

        Takes password (the current one; sealed or clear) and new_email. Nothing
        changes yet: a link is sent to the new address (valid 7 days; a newer
        request voids it), and opening it (`verify_email`) makes it the account's
        address, verified, and tells the old address. Returns the account as it is
        with `pending_email`. Raises WrongPassword (403, `details.password`),
        EmailTaken (409, `details.new_email`), ValidationFailed (the address it has
        already), TooManyRequests (5 wrong passwords in 15 minutes).
        """
        caller = self.caller.require("account")
        request = load(ChangeEmailRequest(), {"password": self._unsealed(password), "new_email": new_email})
        user = self._user(caller.user_id)
        if request["new_email"] == user.email:
            raise ValidationFailed(details={"new_email": ["This is the account's address already."]})
        counted = self._check_password(user, request["password"], "password")
        if self._find(request["new_email"]) is not None:
            raise EmailTaken(details={"new_email": "Taken."})
        with self.db.get_session() as session:
            limits.forget(session, counted)
            self._keep_mail(session, "change_email", user.id, {"to": request["new_email"]})
        return {**UserSchema().dump(user), "pending_email": request["new_email"]}

    @rpc(expected_exceptions=BookingError)
    def send_verification(self):
        """Send the caller a new link that verifies the account's address (valid 7
        days; it voids the older ones). Needs scope `account`. Returns {sent: true},
        or {sent: false} when the address is verified already. Raises
        TooManyRequests past 3 within 15 minutes."""
        caller = self.caller.require("account")
        now = datetime.now(UTC)
        with self.db.get_session() as session:
            user = session.get(User, caller.user_id)
            if user is None:
                raise UserNotFound()
            if user.email_verified:
                return {"sent": False}
            limits.count(session, {"verification": limits.key("verification", user.id)}, now)
            self._keep_mail(session, "verify_email", user.id)
        return {"sent": True}

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("token",))
    def verify_email(self, token):
        """Verify an address with the token of a verification link. Public: the token is the proof.

        The account's own address becomes verified; an address asked for by
        `change_email` replaces the old one, verified, and the old address is told
        by e-mail. The same link opened again once it worked answers the same.
        Returns the account. Raises InvalidVerificationToken (400: wrong, expired,
        replaced by a newer one, or tampered with), EmailTaken (409: someone took
        the new address meanwhile; the link stays usable).
        """
        request = load(LinkTokenRequest(), {"token": token})
        now = datetime.now(UTC)
        purposes = ("verify_email", "change_email")
        try:
            with self.db.get_session() as session:
                spent = links.redeem(session, request["token"], purposes, now)
                if spent is None:
                    found = links.find(session, request["token"], purposes)
                    user = session.get(User, found.user_id) if found and found.used_at else None
                    if user is not None and user.email == found.email and user.email_verified:
                        return UserSchema().dump(user)  # a retry of a link that worked
                    raise InvalidVerificationToken()
                user = session.get(User, spent.user_id)
                if user is None or (spent.purpose == "verify_email" and user.email != spent.email):
                    raise InvalidVerificationToken()  # no account, or the address changed since
                if spent.purpose == "change_email":
                    if session.scalar(select(User.id).where(User.email == spent.email, User.id != user.id)):
                        raise EmailTaken(details={"email": "Taken."})
                    old = user.email
                    user.email = spent.email
                    user.email_verified_at = now
                    self._keep_mail(session, "email_changed", user.id, {"to": old, "new_email": spent.email},
                                    ref=spent.token_hash[:16])
                elif user.email_verified_at is None:
                    user.email_verified_at = now
                session.flush()
                return UserSchema().dump(user)
        except IntegrityError:  # the new address was taken a moment ago
            raise EmailTaken(details={"email": "Taken."}) from None

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def delete_account(self, password):
        """Delete the caller's account. Needs scope `account`.

        Takes password (the current one; sealed or clear). Refused while a confirmed
        stay is still to come: StaysToCome (409, `details.reservations`, each with
        its reference, hotel and dates: cancel them first). Otherwise the account
        can no longer log in; its name, address and password are erased
        (booking/users/erasure.py); a last e-mail goes to the address it had; and
        `user_deleted` makes auth sign out every token of it and the other services
        forget their part. Returns {deleted: true}, again for a retry. Raises
        WrongPassword (403, `details.password`), TooManyRequests (5 wrong passwords
        in 15 minutes), StaysToCome.
        """
        caller = self.caller.require("account")
        request = load(DeleteAccountRequest(), {"password": self._unsealed(password)})
        user = self._user(caller.user_id)
        if user.deleted:
            return {"deleted": True}
        counted = self._check_password(user, request["password"], "password")
        stays = self.reservations.stays_to_come(user.id)  # asked before the transaction: it holds no lock
        if stays:
            with self.db.get_session() as session:
                limits.forget(session, counted)  # the password was right
            raise StaysToCome(details={"reservations": stays})
        with self.db.get_session() as session:
            limits.forget(session, counted)
            user = session.get(User, caller.user_id)
            if user.deleted:
                return {"deleted": True}
            self.outbox.forget(session, user.id)  # what its events said (user_registered: a name, an address)
            address, name = erasure.erase(session, user, datetime.now(UTC))
            user.credentials_version = User.credentials_version + 1
            session.flush()
            session.refresh(user)
            self._keep_mail(session, "account_deleted", user.id, {"to": address, "full_name": name}, ref="last")
            self.outbox.add(session, "user_deleted", UserDeletedEvent().dump(
                {"user_id": user.id, "credentials_version": user.credentials_version}), aggregate=user.id)
        return {"deleted": True}

    @rpc(expected_exceptions=BookingError)
    def start_export(self):
        """Start a copy of what Booking keeps about the caller. Needs scope `account`.

        Returns the export {id, status: "preparing", created_at}; `export_requested`
        makes it: each service that holds data about the guest gives its part, and
        the ZIP (booking/users/export.py) is kept 24 hours and announced by e-mail.
        A retried request gets the same export. Raises TooManyRequests (5 within 15
        minutes)."""
        caller = self.caller.require("account")
        export_id = hashlib.sha256(f"export:{caller.user_id}:{request_ref()}".encode()).hexdigest()[:32]
        now = datetime.now(UTC)
        with self.db.get_session() as session:
            kept = session.get(DataExport, export_id)
            if kept is None:
                user = session.get(User, caller.user_id)
                if user is None or user.deleted:
                    raise UserNotFound()
                limits.count(session, {"export": limits.key("export", user.id)}, now)
                kept = DataExport(id=export_id, user_id=user.id, status="preparing", created_at=now)
                session.add(kept)
                self.outbox.add(session, "export_requested", ExportRequestedEvent().dump(
                    {"user_id": user.id, "export_id": export_id}), aggregate=user.id)
                session.flush()
            return DataExportSchema().dump(kept)

    @rpc(expected_exceptions=BookingError)
    def exports(self):
        """The caller's exports, newest first (without their content). Needs scope `account`."""
        caller = self.caller.require("account")
        with self.db.get_session() as session:
            return DataExportSchema(many=True).dump(session.scalars(
                select(DataExport).where(DataExport.user_id == caller.user_id)
                .order_by(DataExport.created_at.desc())))

    @rpc(expected_exceptions=BookingError)
    def export(self, export_id):
        """One of the caller's exports; once ready, with `filename` and
        `content_base64` (the ZIP). Needs scope `account`. Raises ExportNotFound
        (404, someone else's too), ExportExpired (410, older than 24 hours)."""
        caller = self.caller.require("account")
        request = load(ExportIdRequest(), {"export_id": export_id})
        with self.db.get_session() as session:
            kept = session.get(DataExport, request["export_id"])
            if kept is None or kept.user_id != caller.user_id:
                raise ExportNotFound(details={"export_id": request["export_id"]})
            if kept.status == "expired":
                raise ExportExpired()
            answer = DataExportSchema().dump(kept)
            if kept.status == "ready":
                answer.update(filename=f"booking-data-{kept.created_at:%Y-%m-%d}.zip",
                              content_base64=base64.b64encode(kept.content).decode())
            return answer

    def _user(self, user_id):
        with self.db.get_session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise UserNotFound()
            session.expunge(user)
            return user

    def _check_password(self, user, password, field):
        """Count a check of the account's password (a failure until it proves right)
        and make it; raise WrongPassword naming `field`. Returns what to forget."""
        with self.db.get_session() as session:
            counted = limits.count(session, {"password": limits.key("password", user.id)}, datetime.now(UTC))
        if not self.passwords.verify(user.password_hash, password):
            raise WrongPassword(details={field: ["This is not your current password."]})
        return counted

    def _set_password(self, session, user, password_hash):
        """The new password, one more version of it, and the event that signs out the older tokens."""
        user.password_hash = password_hash
        user.credentials_version = User.credentials_version + 1
        session.flush()
        session.refresh(user)
        self.outbox.add(session, "password_changed", PasswordChangedEvent().dump(
            {"user_id": user.id, "credentials_version": user.credentials_version}), aggregate=user.id)

    def _keep_mail(self, session, kind, user_id, event=None, ref=None):
        """Keep an e-mail of the account's (once per request: a redelivered request
        finds its twin's) and record the event whose handler sends it."""
        key = f"{kind}:{user_id}:{ref or request_ref()}"
        if session.get(SentEmail, key) is None:
            session.add(SentEmail(key=key, kind=kind, user_id=user_id, event=event or {}))
            self.outbox.add(session, "account_mail_requested", AccountMailEvent().dump(
                {"user_id": user_id, "kind": kind, "mail_key": key}), aggregate=user_id)

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

    @event_handler("users", "account_mail_requested")
    def send_account_mail(self, payload):
        """Send an account's requested e-mail (a reset or verification link, a
        notice), once however often the event comes; its link is made as it goes."""
        self._send(payload["mail_key"])

    @event_handler("users", "export_requested")
    def prepare_export(self, payload):
        """Put a guest's export together: the account and e-mails from here, the
        reservations (with their PDFs) and the payments from their services; keep
        the ZIP and announce it by e-mail. Once however often the event comes:
        only an export still preparing is made, and only one making wins."""
        with self.db.get_session() as session:
            kept = session.get(DataExport, payload["export_id"])
            user = session.get(User, kept.user_id) if kept is not None and kept.status == "preparing" else None
            if user is None or user.deleted:
                return
            account = {**UserSchema().dump(user), "email_verified_at": user.email_verified_at}
            sent = [{"kind": email.kind, "sent_at": email.sent_at, "to": (email.event or {}).get("to", user.email),
                     "reservation": (email.event or {}).get("reservation_id")}
                    for email in session.scalars(select(SentEmail).where(
                        SentEmail.user_id == user.id, SentEmail.sent_at.is_not(None)).order_by(SentEmail.sent_at))]
        now = datetime.now(UTC)
        content = export.build(account, sent, self.reservations.guest_data(user.id),
                               self.payments.guest_data(user.id), now)
        with self.db.get_session() as session:
            made = session.execute(update(DataExport).where(
                DataExport.id == payload["export_id"], DataExport.status == "preparing").values(
                status="ready", ready_at=now, expires_at=now + EXPORT_KEPT, size=len(content), content=content))
            if made.rowcount:
                self._keep_mail(session, "export_ready", user.id, {"export_id": payload["export_id"]},
                                ref=payload["export_id"][:16])

    @timer(interval=SWEEP_SECONDS, eager=True)
    def send_unsent(self):
        """Send the e-mails that a dead worker or a refused SMTP delivery left unsent;
        drop the content of exports older than 24 hours."""
        with self.db.get_session() as session:
            due = list(session.scalars(select(SentEmail.key).where(EMAILS.due())))
            session.execute(update(DataExport).where(DataExport.status == "ready",
                                                     DataExport.expires_at < datetime.now(UTC))
                            .values(status="expired", content=None))
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
        given back for the sweep. An e-mail with a link gets a new token, made in
        the claim's transaction (so only its hash is ever stored); a link sent again
        after a failure is a new one, which voids the one before."""
        public_url = self.config.get("PUBLIC_URL", "")
        with self.db.get_session() as session:
            mine = EMAILS.claim(session, key)
            email = session.get(SentEmail, key) if mine else None
            user = session.get(User, email.user_id) if email else None
            if email is not None and user is None:
                email.sent_at = mine  # no such account: there is no one to write to
            message = None
            if user is not None and user.deleted and email.kind != "account_deleted":
                email.sent_at, email.event = mine, {}  # the account is deleted: no one to write to
                return
            if user is not None:
                event = email.event or {}
                to = event.get("to") or user.email
                link = None
                purpose, path = LINKS.get(email.kind, (None, None))
                if purpose == "verify_email" and user.email_verified:
                    if email.kind == "verify_email":
                        email.sent_at = mine  # verified meanwhile: nothing to send
                        return
                elif purpose is not None:
                    link = f"{public_url}{path}?token={links.issue(session, user.id, purpose, to, mine)}"
                message = (email.kind, event, user.id, to, event.get("full_name") or user.full_name, link)
        if message is None:
            return
        kind, event, user_id, to, full_name, link = message
        try:
            subject, text, html = self._compose(kind, event, full_name, public_url, link)
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
            if kind == "account_deleted":  # the address it went to is forgotten too
                session.get(SentEmail, key).event = {}

    @staticmethod
    def _compose(kind, event, full_name, public_url, link):
        """(subject, text, html) of an e-mail of `kind`."""
        if kind == "welcome":
            return emails.welcome_with_link(full_name, public_url, link) if link else \
                emails.welcome(full_name, public_url)
        if kind in ("password_reset", "verify_email"):
            return getattr(emails, kind)(full_name, link)
        if kind == "change_email":
            return emails.change_email(full_name, link, event["to"])
        if kind == "email_changed":
            return emails.email_changed(full_name, event["new_email"], public_url)
        if kind == "export_ready":
            return emails.export_ready(full_name, f"{public_url}/account/exports/{event['export_id']}")
        if kind == "account_deleted":
            return emails.account_deleted(full_name)
        return getattr(emails, kind)(full_name, event, public_url)

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


def request_ref():
    """A short reference of the request being served (its request id, the same for
    a redelivered message), so that a retried request keeps its e-mail once."""
    worker = current_worker()
    origin = request_id_of(worker) if worker is not None and worker.call_id_stack else uuid.uuid4().hex
    return hashlib.sha256(origin.encode()).hexdigest()[:16]
