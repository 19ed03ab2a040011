from werkzeug.utils import redirect

from booking.auth.exceptions import TooManyAttempts
from booking.kit.errors import BookingError, ValidationFailed
from booking.kit.sealed import seal
from booking.users.exceptions import EmailTaken, InvalidCredentials
from entrypoints.gateway.http import (
    api,
    client_address,
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
        """`fields` with the password sealed: no broker message carries it in the clear."""
        if "password" in fields:
            fields = {**fields, "password": seal(fields["password"], self.config)}
        return fields

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
                                     next=safe_next(request.args.get("next")), error=None)

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
        return self.templates.render("account.html", session=self.session, user=self.users.me(), errors={})

    @page("POST", "/account")
    def account_form(self, request):
        if not self.session.logged_in:
            return redirect("/login?next=/account", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, ("full_name",))
        try:
            user = self.users.update_profile(**form)
        except ValidationFailed as refused:
            return self.templates.render("account.html", session=self.session, status=400, form=form,
                                         user=self.users.me(), errors=field_problems(refused.details))
        self.session.rename(user["full_name"])
        return redirect("/account", code=303)
