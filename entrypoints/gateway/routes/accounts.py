from werkzeug.utils import redirect

from booking.auth.exceptions import TooManyAttempts
from booking.kit.errors import BookingError, ValidationFailed
from booking.kit.sealed import seal
from booking.users.exceptions import (
    EmailTaken,
    ExportExpired,
    ExportNotFound,
    InvalidCredentials,
    InvalidResetToken,
    InvalidVerificationToken,
    StaysToCome,
    TooManyRequests,
    WrongPassword,
)
from entrypoints.gateway.http import (
    api,
    client_address,
    download,
    form_fields,
    json_body,
    json_response,
    oauth,
    page,
    trusted_proxies,
)
from entrypoints.gateway.wording import field_problems

REGISTER_FIELDS = ("email", "password", "full_name")
LOGIN_FIELDS = ("email", "password")
# the answer to a reset request, whether or not the address has an account
RESET_ASKED = {"message": "If an account has this address, an e-mail with a link to choose a new password is "
                          "on its way. The link works once, for 30 minutes."}
RESET_DONE = {"message": "Your password is changed and every session is signed out: log in with the new one."}
ANOTHER_ACCOUNT = "Another account uses this address."
DELETED = {"deleted": True, "message": "The account is deleted: it can no longer log in, and its name, e-mail "
                                       "address and password are erased. A last e-mail says so."}


def safe_next(target, otherwise="/account"):
    """Only a path on this site: never an open redirect."""
    return target if target and target.startswith("/") and not target.startswith(("//", "/\\")) else otherwise


def waiting_time(seconds):
    """'12 minutes' from '700' (at least a minute; 'a few minutes' if unknown)."""
    if not str(seconds or "").isdigit():
        return "a few minutes"
    minutes = max(1, -(-int(seconds) // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class AccountRoutes:
    def _client_address(self, request):
        """The guest's address, for the login limits: behind a trusted proxy, the one
        it forwards (TRUSTED_PROXIES)."""
        return client_address(request, trusted_proxies(self.config))

    def _sealed(self, fields):
        """`fields` with the passwords sealed: no broker message carries one in the clear."""
        return {key: seal(value, self.config) if key.endswith("password") else value
                for key, value in fields.items()}

    # -- JSON API ---------------------------------------------------------------

    @api("POST", "/api/v1/users")
    def register(self, request):
        fields = self._sealed(json_body(request, REGISTER_FIELDS))
        return json_response(self.users.register(**fields), status=201)

    @api("POST", "/api/v1/auth/login")
    def login(self, request):
        credentials = self._sealed(json_body(request, LOGIN_FIELDS))
        return self.auth.login(**credentials, client_address=self._client_address(request))

    @api("GET", "/api/v1/me")
    def me(self, request):
        return self.users.me()

    @api("POST", "/api/v1/password-reset")
    def password_reset(self, request):
        """The same answer whether or not an account has the address (users sends the link after it)."""
        fields = json_body(request, ("email",))
        self.users.request_password_reset(email=fields.get("email"), client_address=self._client_address(request))
        return json_response(RESET_ASKED, status=202)

    @api("POST", "/api/v1/password-reset/confirm")
    def password_reset_confirm(self, request):
        fields = self._sealed(json_body(request, ("token", "password")))
        self.users.reset_password(token=fields.get("token"), password=fields.get("password"))
        return RESET_DONE

    @api("POST", "/api/v1/me/verification")
    def send_verification(self, request):
        if request.get_data():  # no body, or {}
            json_body(request, ())
        return json_response(self.users.send_verification(), status=202)

    @api("POST", "/api/v1/email-verification")
    def verify_email(self, request):
        fields = json_body(request, ("token",))
        return self.users.verify_email(token=fields.get("token"))

    @api("POST", "/api/v1/me/password")
    def change_password(self, request):
        """A new password signs out every session (users tells auth); the caller's is
        logged in again: the answer is a new token response, as a login's."""
        fields = self._sealed(json_body(request, ("current_password", "new_password")))
        user = self.users.change_password(current_password=fields.get("current_password"),
                                          new_password=fields.get("new_password"))
        return self.auth.login(email=user["email"], password=fields["new_password"],
                               client_address=self._client_address(request))

    @api("POST", "/api/v1/me/email")
    def change_email(self, request):
        fields = self._sealed(json_body(request, ("password", "new_email")))
        return json_response(self.users.change_email(password=fields.get("password"),
                                                     new_email=fields.get("new_email")), status=202)

    @api("DELETE", "/api/v1/me")
    def delete_account(self, request):
        fields = self._sealed(json_body(request, ("password",)))
        self.users.delete_account(password=fields.get("password"))
        return DELETED

    @api("POST", "/api/v1/me/export")
    def start_export(self, request):
        if request.get_data():  # no body, or {}
            json_body(request, ())
        return json_response(self.users.start_export(), status=202)

    @api("GET", "/api/v1/me/exports")
    def exports(self, request):
        return {"exports": self.users.exports()}

    @api("GET", "/api/v1/me/exports/<string:export_id>")
    def export(self, request, export_id):
        """The ZIP once ready; until then 202 and the export's state."""
        kept = self.users.export(export_id)
        if kept["status"] != "ready":
            return json_response(kept, status=202)
        return download(kept, "application/zip")

    @oauth("POST", "/oauth/token")
    def oauth_token(self, request):
        fields = form_fields(request, ("grant_type", "client_id", "client_secret", "refresh_token", "scope",
                                       "username", "password"))
        # the password grant is refused by auth; its credentials go no further
        for credential in ("username", "password"):
            if fields.pop(credential, None) is not None:
                fields[credential] = "-"
        if request.authorization and request.authorization.type == "basic":
            # RFC 6749 §2.3.1: client credentials in HTTP Basic
            fields.setdefault("client_id", request.authorization.username)
            fields.setdefault("client_secret", request.authorization.password)
        return self.auth.token(**fields)

    @oauth("POST", "/oauth/revoke")
    def oauth_revoke(self, request):
        fields = form_fields(request, ("token", "token_type_hint", "client_id", "client_secret"))
        self.auth.revoke(fields.get("token", ""), fields.get("token_type_hint"))
        return {}

    @api("GET", "/.well-known/jwks.json")
    def jwks(self, request):
        return self.auth.jwks()

    # -- pages --------------------------------------------------------------------

    @page("GET", "/register")
    def register_page(self, request):
        return self.templates.render("register.html", session=self.session, form={}, errors={},
                                     next=safe_next(request.args.get("next"), None))

    @page("POST", "/register")
    def register_form(self, request):
        self.session.check_csrf(request.form)
        target = safe_next(request.args.get("next"), None)
        form = form_fields(request, REGISTER_FIELDS)
        credentials = self._sealed(form)
        try:
            self.users.register(**credentials)
            tokens = self.auth.login(email=credentials["email"], password=credentials["password"],
                                     client_address=self._client_address(request))
        except (ValidationFailed, EmailTaken) as refused:
            return self.templates.render("register.html", session=self.session, status=refused.http_status,
                                         form={key: form.get(key) for key in ("email", "full_name")}, next=target,
                                         errors=field_problems(refused.details or {"email": refused.message},
                                                               order=("full_name", "email", "password")))
        self.session.log_in(tokens)
        return redirect(target or "/account", code=303)

    @page("GET", "/login")
    def login_page(self, request):
        return self.templates.render("login.html", session=self.session, form={},
                                     next=safe_next(request.args.get("next")), error=None,
                                     notice=self.session.told("login"))

    @page("POST", "/login")
    def login_form(self, request):
        self.session.check_csrf(request.form)
        target = safe_next(request.args.get("next"))
        form = form_fields(request, LOGIN_FIELDS)
        try:
            tokens = self.auth.login(**self._sealed(form), client_address=self._client_address(request))
        except (InvalidCredentials, TooManyAttempts, ValidationFailed) as refused:
            # an empty field reads as wrong credentials, like any other miss
            shown = InvalidCredentials() if isinstance(refused, ValidationFailed) else refused
            message = shown.message
            if isinstance(shown, TooManyAttempts):
                message = f"Too many failed attempts: for your safety, logging in is paused. " \
                          f"Try again in {waiting_time(shown.details.get('retry_after'))}."
            return self.templates.render("login.html", session=self.session, status=shown.http_status,
                                         form={"email": form.get("email", "")}, next=target, error=message)
        self.session.log_in(tokens)
        return redirect(target, code=303)

    @page("POST", "/logout")
    def logout(self, request):
        self.session.check_csrf(request.form)
        for token in self.session.log_out():
            try:
                self.auth.revoke(token)
            except BookingError:
                pass  # the session is gone from the cookie whatever auth says
        return redirect("/", code=303)

    @page("GET", "/account")
    def account_page(self, request):
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        return self._account_page()

    def _account_page(self, status=200, **forms):
        """The account page; `forms` is what a refused form shows again: `form` and
        `errors` (the name), `password_errors`, `email_form` and `email_errors`,
        `notice` ({message, ok})."""
        context = {"form": None, "errors": {}, "password_errors": {}, "email_form": {}, "email_errors": {},
                   "notice": self.session.told("account"), **forms}
        return self.templates.render("account.html", session=self.session, status=status, user=self.users.me(),
                                     exports=self.users.exports()[:3], **context)

    @page("POST", "/account")
    def account_form(self, request):
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, ("full_name",))
        try:
            user = self.users.update_profile(**form)
        except ValidationFailed as refused:
            return self._account_page(status=400, form=form, errors=field_problems(refused.details))
        self.session.rename(user["full_name"])
        return redirect("/account", code=303)

    @page("POST", "/account/verification")
    def account_verification(self, request):
        """Send the verification link again."""
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form_fields(request, ())
        try:
            sent = self.users.send_verification()["sent"]
        except TooManyRequests as refused:
            return self._account_page(status=429, notice={"message": too_many(refused)})
        message = "Your e-mail address is verified already."
        if sent:
            message = f"We sent a new link to {self.users.me()['email']}: open it to verify your address."
        self.session.tell("account", ok=True, message=message)
        return redirect("/account", code=303)

    @page("POST", "/account/password")
    def account_password(self, request):
        """A new password: every other session is signed out, this one logged in again."""
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form = self._sealed(form_fields(request, ("current_password", "new_password")))
        try:
            user = self.users.change_password(current_password=form.get("current_password"),
                                              new_password=form.get("new_password"))
        except (ValidationFailed, WrongPassword) as refused:
            return self._account_page(status=refused.http_status, password_errors=field_problems(
                refused.details or {"current_password": refused.message},
                order=("current_password", "new_password")))
        except TooManyRequests as refused:
            return self._account_page(status=429, notice={"message": too_many(refused)})
        try:
            tokens = self.auth.login(email=user["email"], password=form["new_password"],
                                     client_address=self._client_address(request))
        except BookingError:  # the password is changed; this session is signed out with the others
            self.session.log_out()
            self.session.tell("login", ok=True, message="Your password is changed: log in with the new one.")
            return redirect("/login?next=/account", code=303)
        self.session.log_in(tokens)
        self.session.tell("account", ok=True, message="Your password is changed. Every other session "
                                                      "(other browsers, apps) is signed out.")
        return redirect("/account", code=303)

    @page("POST", "/account/email")
    def account_email(self, request):
        """A new address: a link goes to it, and it replaces the old one once opened."""
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, ("new_email", "password"))
        try:
            pending = self.users.change_email(password=seal(form.get("password"), self.config),
                                              new_email=form.get("new_email"))["pending_email"]
        except (ValidationFailed, WrongPassword, EmailTaken) as refused:
            details = refused.details or {"password": refused.message}
            if isinstance(refused, EmailTaken):
                details = {"new_email": ANOTHER_ACCOUNT}
            return self._account_page(status=refused.http_status, email_form={"new_email": form.get("new_email")},
                                      email_errors=field_problems(details, order=("new_email", "password")))
        except TooManyRequests as refused:
            return self._account_page(status=429, email_form={"new_email": form.get("new_email")},
                                      notice={"message": too_many(refused)})
        self.session.tell("account", ok=True, message=f"We sent a link to {pending}. Your address changes when "
                                                      "you open it; until then, it stays as it is.")
        return redirect("/account", code=303)

    @page("POST", "/account/export")
    def account_export(self, request):
        """Prepare a copy of the guest's data: an e-mail says when it is ready."""
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form_fields(request, ())
        try:
            self.users.start_export()
        except TooManyRequests as refused:
            return self._account_page(status=429, notice={"message": too_many(refused)})
        self.session.tell("account", ok=True, message="We are preparing a copy of your data. It takes a minute: "
                                                      "we e-mail you when it is ready, and it appears below.")
        return redirect("/account#data", code=303)

    @page("GET", "/account/exports/<string:export_id>")
    def account_export_download(self, request, export_id):
        if not self.session.logged_in:
            return redirect(f"/login?next=/account/exports/{export_id}", code=303)
        try:
            kept = self.users.export(export_id)
        except (ExportNotFound, ExportExpired, ValidationFailed) as refused:
            message = refused.message if isinstance(refused, ExportExpired) else "There is no such copy of your " \
                "data: it may belong to another account. Ask for a new one on your account page."
            return self.templates.render("message.html", session=self.session, status=refused.http_status,
                                         title="Your data", message=message, back="/account#data")
        if kept["status"] != "ready":
            self.session.tell("account", ok=True, message="Your copy is still being prepared: we e-mail you "
                                                          "when it is ready.")
            return redirect("/account#data", code=303)
        return download(kept, "application/zip")

    @page("GET", "/account/delete")
    def delete_account_page(self, request):
        if not self.session.logged_in:
            return redirect("/login?next=/account/delete", code=303)
        return self.templates.render("delete_account.html", session=self.session, errors={}, stays=[],
                                     error=None)

    @page("POST", "/account/delete")
    def delete_account_form(self, request):
        """Delete the account (the password confirms it), or say which stays to cancel first."""
        if not self.session.logged_in:
            return redirect("/login?next=/account/delete", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, ("password",))
        try:
            self.users.delete_account(password=seal(form.get("password"), self.config))
        except (ValidationFailed, WrongPassword, StaysToCome, TooManyRequests) as refused:
            return self.templates.render(
                "delete_account.html", session=self.session, status=refused.http_status,
                stays=refused.details.get("reservations", []) if isinstance(refused, StaysToCome) else [],
                error=too_many(refused) if isinstance(refused, TooManyRequests) else None,
                errors=field_problems(refused.details or {"password": refused.message})
                if isinstance(refused, (ValidationFailed, WrongPassword)) else {})
        self.session.log_out()  # auth revokes its tokens on user_deleted
        return redirect("/account/deleted", code=303)

    @page("GET", "/account/deleted")
    def account_deleted(self, request):
        return self.templates.render("account_deleted.html", session=self.session)

    # -- a forgotten password, an address to verify ---------------------------------

    @page("GET", "/forgot-password")
    def forgot_password_page(self, request):
        return self.templates.render("forgot_password.html", session=self.session, form={}, errors={},
                                     error=None)

    @page("POST", "/forgot-password")
    def forgot_password_form(self, request):
        self.session.check_csrf(request.form)
        form = form_fields(request, ("email",))
        try:
            self.users.request_password_reset(email=form.get("email"),
                                              client_address=self._client_address(request))
        except (ValidationFailed, TooManyRequests) as refused:
            too = isinstance(refused, TooManyRequests)
            return self.templates.render(
                "forgot_password.html", session=self.session, status=refused.http_status,
                form={"email": form.get("email", "")}, error=too_many(refused) if too else None,
                errors={} if too else field_problems(refused.details or {"email": refused.message}))
        return redirect("/forgot-password/sent", code=303)

    @page("GET", "/forgot-password/sent")
    def forgot_password_sent(self, request):
        return self.templates.render("forgot_password_sent.html", session=self.session)

    @page("GET", "/reset-password")
    def reset_password_page(self, request):
        return self.templates.render("reset_password.html", session=self.session, errors={}, error=None,
                                     token=request.args.get("token", ""))

    @page("POST", "/reset-password")
    def reset_password_form(self, request):
        self.session.check_csrf(request.form)
        form = form_fields(request, ("token", "password"))
        try:
            self.users.reset_password(token=form.get("token"), password=seal(form.get("password"), self.config))
        except (InvalidResetToken, ValidationFailed) as refused:
            invalid = isinstance(refused, InvalidResetToken) or "token" in (refused.details or {})
            return self.templates.render(
                "reset_password.html", session=self.session, status=400, token=form.get("token", ""),
                error="This link does not work any more: it was used, it is older than 30 minutes, or a newer "
                      "one was sent. Ask for a new link below." if invalid else None,
                invalid=invalid, errors={} if invalid else field_problems(refused.details))
        # whoever is logged in here is signed out with every other session
        self.session.log_out()
        self.session.tell("login", ok=True, message="Your password is changed, and every session is signed "
                                                    "out. Log in with the new password.")
        return redirect("/login", code=303)

    @page("GET", "/verify-email")
    def verify_email_page(self, request):
        """A button, not the GET itself, verifies: a mail scanner that opens links spends nothing."""
        return self.templates.render("verify_email.html", session=self.session, error=None,
                                     token=request.args.get("token", ""))

    @page("POST", "/verify-email")
    def verify_email_form(self, request):
        self.session.check_csrf(request.form)
        form = form_fields(request, ("token",))
        try:
            user = self.users.verify_email(token=form.get("token"))
        except (InvalidVerificationToken, ValidationFailed, EmailTaken) as refused:
            if isinstance(refused, EmailTaken):
                error = "Another account has taken this address meanwhile: your account keeps its address."
            else:
                error = ("This link does not work any more: it is older than 7 days, or a newer one was sent. "
                         + ("Send a new one" if self.session.logged_in else "Log in and send a new one")
                         + " from your account page.")
            return self.templates.render("verify_email.html", session=self.session, status=refused.http_status,
                                         error=error, token=form.get("token", ""))
        if self.session.logged_in:
            self.session.tell("account", ok=True, message=f"Your e-mail address {user['email']} is verified.")
            return redirect("/account", code=303)
        self.session.tell("login", ok=True, message=f"Your e-mail address {user['email']} is verified.")
        return redirect("/login", code=303)


def too_many(refused):
    return f"Too many requests: please try again in {waiting_time(refused.details.get('retry_after'))}."
