"""Who is calling: every service checks the caller's access token itself.

The gateway (or `nameko shell`, or a service) puts `authorization: Bearer <jwt>`
into nameko's context data, which nameko forwards with every RPC call and event.
`CallerIdentity` verifies that token against the auth service's published keys
(cached, refreshed when a token names an unknown `kid`; a token's signature is
checked once per process) and its list of revoked tokens (refreshed every few
seconds), and gives the method the `Caller`:

    caller = CallerIdentity()

    @rpc
    def me(self):
        user_id = self.caller.require("account").user_id

A token is checked only when a method asks for it, so public reads cost nothing.
"""
import logging
import time

import eventlet
import jwt
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

from booking.kit.errors import (
    BookingError,
    ServiceUnavailable,
    Unauthorized,
    import_service_errors,
)
from booking.kit.replies import StandaloneReplyListener
from booking.kit.tokens import (
    CheckedTokens,
    UnknownSigningKey,
    bearer_token,
    public_keys,
    verify_access_token,
)

log = logging.getLogger(__name__)

KEYS_MAX_AGE_SECONDS = 300
# how stale the list of revoked tokens may be (REVOCATIONS_MAX_AGE)
REVOCATIONS_MAX_AGE_SECONDS = 5
# fetch a new service token when this much of the old one's life is gone
SERVICE_TOKEN_RENEW_AT = 0.8
# after auth failed to answer, how long it is not asked again (the keys and the list
# of revoked tokens this process has are used meanwhile): an auth outage costs one
# timeout, not one per call
AUTH_BACKOFF_SECONDS = 5
# an unknown key id makes the keys be fetched again at most this often: a key made
# a moment ago (a twin auth's first, a rotation) is known within it; a made-up
# one, presented again and again, costs one fetch a second
UNKNOWN_KID_RETRY_SECONDS = 1
# how many unknown key ids are remembered (the oldest forgotten first)
UNKNOWN_KIDS_KEPT = 1000


class AuthClient(SharedExtension):
    """This process's line to the auth service (one per container): its public
    keys, the revoked tokens, and this service's own client-credentials token."""

    def setup(self):
        import_service_errors("auth")
        config = self.container.config
        self.issuer = config["TOKEN_ISSUER"]
        self.audience = config["TOKEN_AUDIENCE"]
        self.client_id = self.container.service_name
        self.client_secret = config.get("OAUTH_CLIENTS", {}).get(self.client_id, {}).get("secret")
        self.timeout = float(config.get("RPC_TIMEOUT", 5))
        self.revocations_max_age = float(config.get("REVOCATIONS_MAX_AGE", REVOCATIONS_MAX_AGE_SECONDS))
        self._standalone = self._proxy = None
        # the standalone proxy serves one call at a time
        self._lock = Semaphore()
        self._keys, self._keys_at = {}, 0.0
        self._revoked, self._revoked_at = frozenset(), 0.0
        self._checked = CheckedTokens()
        self._token, self._token_renew_at = None, 0.0
        self._down_until = 0.0
        self._unknown_kids = {}  # kid -> when the keys were last fetched without it (monotonic)

    def stop(self):
        if self._standalone is not None:
            stop_quietly(self._standalone, self.timeout)
        self._standalone = self._proxy = None

    def call(self, method, **kwargs):
        """`auth.<method>(**kwargs)`, bounded by RPC_TIMEOUT; `ServiceUnavailable` if
        auth does not answer (at once, for AUTH_BACKOFF_SECONDS after it did not),
        auth's own typed errors as they are."""
        if time.monotonic() < self._down_until:
            raise self._unavailable()
        with self._lock:
            if time.monotonic() < self._down_until:  # found away while this call waited
                raise self._unavailable()
            try:
                with eventlet.Timeout(self.timeout):
                    if self._proxy is None:
                        self._standalone = ClusterRpcProxy(
                            self.container.config, reply_listener_cls=StandaloneReplyListener)
                        self._standalone.start()  # stop() belongs to its maker
                        # a call not taken within the timeout is dropped by the broker, not
                        # served late: a refresh its caller gave up on must not spend the token
                        self._proxy = ServiceProxy(self._standalone._worker_ctx, "auth",
                                                   self._standalone._reply_listener, expiration=self.timeout)
                    return getattr(self._proxy, method)(**kwargs)
            except BookingError:
                raise
            except (Exception, eventlet.Timeout):
                log.warning("the auth service did not answer %s; not asked again for %s s",
                            method, AUTH_BACKOFF_SECONDS)
                self._stop_proxy()
                self._down_until = time.monotonic() + AUTH_BACKOFF_SECONDS
                raise self._unavailable() from None

    @staticmethod
    def _unavailable():
        return ServiceUnavailable("The auth service is not available", details={"service": "auth"})

    def _stop_proxy(self):
        """Drop the proxy; it is stopped aside, bounded: stopping one whose broker
        node died can wait on its connection for ever, and a call waiting for it
        would hold the lock that every other call needs."""
        if self._standalone is not None:
            eventlet.spawn_n(stop_quietly, self._standalone, self.timeout)
        self._standalone = self._proxy = None

    def keys(self, refresh=False):
        """auth's public keys, fetched again when old (or asked to); while auth does
        not answer, the ones this process has."""
        if refresh or time.monotonic() - self._keys_at > KEYS_MAX_AGE_SECONDS:
            try:
                fetched = public_keys(self.call("jwks"))
            except ServiceUnavailable:
                if self._keys:
                    return self._keys
                raise
            if fetched.keys() != self._keys.keys():
                # a token signed by a key no longer published is refused from now on
                self._checked.forget()
            self._keys, self._keys_at = fetched, time.monotonic()
        return self._keys

    def revoked(self):
        if time.monotonic() - self._revoked_at > self.revocations_max_age:
            try:
                self._revoked = frozenset(self.call("revocations"))
                self._revoked_at = time.monotonic()
            except ServiceUnavailable:
                # tokens live minutes; a stale list beats refusing every call (and auth,
                # away, is not asked again by every call: see `call`)
                log.warning("using a stale list of revoked tokens")
        return self._revoked

    def verify(self, token):
        return self._checked.caller(token, self._check, self.revoked())

    def _check(self, token):
        try:
            return self._verify(token, self.keys())
        except UnknownSigningKey:
            # a new key (fetch them again), or a made-up one: asked once per key and
            # fetch of the keys, so that forged kids cannot make every call fetch them
            kid = unverified_kid(token)
            if time.monotonic() - self._unknown_kids.get(kid, float("-inf")) < UNKNOWN_KID_RETRY_SECONDS:
                raise
            keys = self.keys(refresh=True)
            try:
                return self._verify(token, keys)
            except UnknownSigningKey:
                self._unknown_kids[kid] = time.monotonic()
                if len(self._unknown_kids) > UNKNOWN_KIDS_KEPT:
                    self._unknown_kids.pop(next(iter(self._unknown_kids)))
                raise

    def _verify(self, token, keys):
        return verify_access_token(token, keys=keys, issuer=self.issuer, audience=self.audience)

    def service_token(self):
        """An access token for this service itself (client credentials), reused
        until most of its life is gone."""
        if self._token is None or time.monotonic() > self._token_renew_at:
            answer = self.call(
                "token", grant_type="client_credentials",
                client_id=self.client_id, client_secret=self.client_secret,
            )
            self._token = answer["access_token"]
            self._token_renew_at = time.monotonic() + answer["expires_in"] * SERVICE_TOKEN_RENEW_AT
        return self._token


def stop_quietly(proxy, timeout):
    try:
        with eventlet.Timeout(timeout):
            proxy.stop()
    except (Exception, eventlet.Timeout):  # its connection may be gone already
        pass


def unverified_kid(token):
    try:
        return jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None


class CallerIdentity(DependencyProvider):
    auth = AuthClient()

    def get_dependency(self, worker_ctx):
        return CallerOfWorker(self.auth, worker_ctx.data.get("authorization"))


class CallerOfWorker:
    def __init__(self, auth, authorization):
        self._auth = auth
        self._token = bearer_token(authorization)
        self._caller = None

    @property
    def authenticated(self):
        return self._token is not None

    def require(self, *scopes):
        """The verified `Caller`, holding every scope given; else `Unauthorized`
        (no or bad token) or `Forbidden` (a scope missing)."""
        if self._token is None:
            raise Unauthorized("This needs an access token")
        if self._caller is None:
            self._caller = self._auth.verify(self._token)
        return self._caller.require(*scopes)
