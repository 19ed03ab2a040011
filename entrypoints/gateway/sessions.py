"""The web UI's session: an encrypted, signed cookie (Fernet), so the gateway keeps
no state and any instance can serve any request.

It holds a random session id, the CSRF token of the session's forms and the
user's tokens. The cookie is HttpOnly and SameSite=Lax, and Secure when Booking
is served over HTTPS. Logging in starts a new session (new id, new CSRF token).
An access token about to expire is exchanged for a new one with the refresh
token before the page is served, and the cookie then carries the new tokens
whatever the page turns out to be (an error page included): the spent refresh
token must never be presented again. A refresh that auth refuses (the grant is
invalid) logs the session out; auth not answering does not.

Only pages have a session: the JSON API authenticates by its Bearer token alone,
so that the cookie (which a browser sends by itself) never authorises an API call.
"""
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from weakref import WeakKeyDictionary

from cryptography.fernet import Fernet, InvalidToken
from nameko.extensions import DependencyProvider

from booking.auth.exceptions import InvalidGrant
from booking.kit.errors import BookingError, Forbidden
from booking.kit.identity import AuthClient

log = logging.getLogger(__name__)

COOKIE = "booking_session"
MAX_AGE_SECONDS = 14 * 24 * 3600
# refresh an access token this long before it expires
REFRESH_MARGIN_SECONDS = 30


class CsrfFailed(Forbidden):
    code = "CSRF_FAILED"
    default_message = "This form has expired; please reload the page and try again"


class WebSession:
    def __init__(self, data=None):
        self.data = data or {}
        self.changed = False
        if "sid" not in self.data:
            self._renew()

    def _renew(self):
        self.data = {"sid": secrets.token_urlsafe(16), "csrf": secrets.token_urlsafe(24)}
        self.changed = True

    @property
    def csrf_token(self):
        return self.data["csrf"]

    def tell(self, about, **notice):
        """Keep a message about `about` (a booking) for the next page, after a redirect."""
        self.data["notice"] = {"about": about, **notice}
        self.changed = True

    def told(self, about):
        """The message kept about `about`, once; None if there is none."""
        notice = self.data.get("notice")
        if not notice or notice.get("about") != about:
            return None
        del self.data["notice"]
        self.changed = True
        return notice

    def check_csrf(self, form):
        if not hmac.compare_digest(form.get("csrf_token", ""), self.data["csrf"]):
            raise CsrfFailed()

    @property
    def user_name(self):
        return self.data.get("name")

    @property
    def logged_in(self):
        return "access_token" in self.data

    @property
    def scopes(self):
        """What the guest's token allows ("partner" for a hotel's manager, "admin" for
        an operator): for what the pages offer; every service checks the token itself."""
        return frozenset(self.data.get("scope", "").split()) if self.logged_in else frozenset()

    def log_in(self, tokens):
        """A new session for the user: nothing of the anonymous one carries over."""
        self._renew()
        self.set_tokens(tokens)
        self.rename(tokens["user"]["full_name"])

    def rename(self, name):
        self.data["name"] = name
        self.changed = True

    def set_tokens(self, tokens):
        self.data.update(
            access_token=tokens["access_token"],
            access_expires_at=int(time.time()) + int(tokens["expires_in"]),
            refresh_token=tokens.get("refresh_token", self.data.get("refresh_token")),
            scope=tokens.get("scope", self.data.get("scope", "")),
        )
        self.changed = True

    def log_out(self):
        """The tokens to revoke; the session is a new anonymous one."""
        tokens = [self.data.get(key) for key in ("refresh_token", "access_token") if self.data.get(key)]
        self._renew()
        return tokens

    def needs_refresh(self):
        return self.logged_in and self.data["access_expires_at"] - REFRESH_MARGIN_SECONDS < time.time()


class WebSessions(DependencyProvider):
    auth = AuthClient()

    def setup(self):
        config = self.container.config
        key = hashlib.sha256(config["SESSION_SECRET"].encode()).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.secure = config.get("PUBLIC_URL", "").startswith("https://")
        self.sessions = WeakKeyDictionary()
        self.cookies = WeakKeyDictionary()
        # the workers whose page shows a guest's data: it must not come back from a cache
        self.private = WeakKeyDictionary()

    def get_dependency(self, worker_ctx):
        if not getattr(worker_ctx.entrypoint, "uses_session", False):
            return WebSession()  # an API route or an event: no cookie is read, none is written
        # the first argument of an HTTP worker is its request
        cookies = getattr(worker_ctx.args[0], "cookies", {}) if worker_ctx.args else {}
        session = self.read(cookies)
        if session.needs_refresh():
            self._refresh(session)
        if session.logged_in and "authorization" not in worker_ctx.data:
            worker_ctx.data["authorization"] = f"Bearer {session.data['access_token']}"
        self.sessions[worker_ctx] = session
        if session.logged_in:
            self.private[worker_ctx] = True
        return session

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        session = self.sessions.pop(worker_ctx, None)
        if session is not None and session.logged_in and exc_info is not None \
                and getattr(exc_info[1], "code", None) == "INVALID_TOKEN":
            # its tokens were revoked (a new password signs out every session): it ends now,
            # not at its next refresh
            session.log_out()
        if session is not None and session.changed:
            self.cookies[worker_ctx] = self.fernet.encrypt(json.dumps(session.data).encode()).decode()

    def finish_response(self, worker_ctx, response):
        """Called by the gateway's handler once the response is made, whatever it is
        (a page, a redirect, an error page): the session's cookie, if it changed; and
        for a page made for a logged-in guest, `Cache-Control: no-store`, so that it
        does not come back with the Back button once the guest has logged out."""
        if self.private.pop(worker_ctx, False) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        cookie = self.cookies.pop(worker_ctx, None)
        if cookie is not None:
            response.set_cookie(COOKIE, cookie, max_age=MAX_AGE_SECONDS, httponly=True,
                                secure=self.secure, samesite="Lax", path="/")

    def read(self, cookies):
        """The session a request's cookies hold, only read (nothing refreshed or sent back)."""
        cookie = cookies.get(COOKIE)
        if cookie:
            try:
                return WebSession(json.loads(self.fernet.decrypt(cookie.encode(), ttl=MAX_AGE_SECONDS)))
            except (InvalidToken, ValueError):
                pass  # tampered, too old, or from another secret: start afresh
        return WebSession()

    def _refresh(self, session):
        try:
            tokens = self.auth.call("token", grant_type="refresh_token", client_id="web",
                                    refresh_token=session.data["refresh_token"])
        except InvalidGrant:
            log.info("a session's refresh token was refused; it is logged out")
            session.log_out()
            return
        except BookingError:
            log.warning("a session's tokens could not be refreshed now (auth away); it stays logged in")
            return
        session.set_tokens(tokens)
