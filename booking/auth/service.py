from nameko.dependency_providers import Config

from booking.auth import grants, limits
from booking.auth.exceptions import InvalidGrant, OAuthError, UnsupportedGrantType
from booking.auth.issuer import WEB_CLIENT, Settings, TokenIssuer, user_scopes
from booking.auth.models import Base
from booking.auth.schemas import LoginRequest, RevokeRequest, TokenRequest
from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import load
from booking.users.exceptions import InvalidCredentials


class AuthService(Pingable):
    """OAuth2 for Booking: access tokens (JWT, EdDSA), refresh tokens, revocation."""

    name = "auth"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    config = Config()
    users = ServiceRpc("users", as_service=True)

    def issuer(self, session):
        return TokenIssuer(session, Settings.from_config(self.config))

    @rpc(expected_exceptions=BookingError,
         sensitive_arguments=("client_secret", "refresh_token", "password"))
    def token(self, grant_type=None, client_id=None, client_secret=None, refresh_token=None,
              scope=None, username=None, password=None):
        """The OAuth2 token endpoint (RFC 6749 §4.4 and §6).

        Takes grant_type "client_credentials" (client_id, client_secret, scope?) or
        "refresh_token" (refresh_token, client_id?). Returns {access_token,
        token_type, expires_in, scope} and, for refresh, a new refresh_token: the
        old one is spent, and spending it twice revokes the session. The password
        grant (username, password) is refused, as OAuth 2.1 does.
        Raises InvalidClient, InvalidGrant, InvalidScope, UnsupportedGrantType,
        OAuthError (invalid_request).
        """
        try:
            request = load(TokenRequest(), {
                "grant_type": grant_type, "client_id": client_id, "client_secret": client_secret,
                "refresh_token": refresh_token, "scope": scope})
        except BookingError:
            raise OAuthError() from None
        if request["grant_type"] == "client_credentials":
            with self.db.get_session() as session:
                return self.issuer(session).client_credentials(
                    request["client_id"], request["client_secret"], request["scope"])
        if request["grant_type"] == "refresh_token":
            with self.db.get_session() as session:
                answer = self.issuer(session).refresh(request["refresh_token"], request["client_id"])
            if answer is None:
                raise InvalidGrant("The refresh token was used already; its session is revoked")
            return answer
        raise UnsupportedGrantType()

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("password",))
    def login(self, email, password, client_address=None):
        """First-party login for the web UI; users checks the password.

        Returns the token response with a refresh token and the user. Raises
        InvalidCredentials (the same for an unknown e-mail and a wrong password)
        and TooManyAttempts (after 5 failures for an account or 20 from an address
        within 15 minutes).
        """
        request = load(LoginRequest(), {"email": email, "password": password,
                                        "client_address": client_address})
        now = grants.utcnow()
        with self.db.get_session() as session:
            attempt = limits.begin_attempt(session, request["email"], request["client_address"], now)
        # no transaction is open across this call
        try:
            user = self.users.verify_password(email=request["email"], password=request["password"])
        except InvalidCredentials:
            raise  # the attempt stays counted: a failure
        except Exception:
            with self.db.get_session() as session:
                limits.forget(session, attempt)  # not the guest's failure: users did not answer
            raise
        # the version of the password: a newer one signs this session out (`sign_out_everywhere`)
        version = user.get("credentials_version")
        user = {key: value for key, value in user.items() if key != "credentials_version"}
        with self.db.get_session() as session:
            limits.forget(session, attempt)
            return self.issuer(session).issue(f"user:{user['id']}", WEB_CLIENT, user_scopes(user.get("role")),
                                              with_refresh=True, user=user, credentials_version=version)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("token",))
    def revoke(self, token, token_type_hint=None):
        """Revoke a refresh token (with every token rotated from it) or an access
        token (RFC 7009). An unknown token is ignored, so a retry is harmless."""
        request = load(RevokeRequest(), {"token": token, "token_type_hint": token_type_hint})
        with self.db.get_session() as session:
            self.issuer(session).revoke(request["token"])

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("token",))
    def verify(self, token):
        """The claims of a valid access token (sub, client_id, scope, jti, exp).
        Raises InvalidToken."""
        with self.db.get_session() as session:
            caller = self.issuer(session).verify(token)
        return {"sub": caller.subject, "client_id": caller.client_id, "jti": caller.token_id,
                "scope": " ".join(sorted(caller.scopes)), "exp": caller.expires_at}

    @rpc
    def jwks(self):
        """The public signing keys, as a JSON Web Key Set (RFC 7517)."""
        with self.db.get_session() as session:
            return self.issuer(session).jwks()

    @rpc
    def revocations(self):
        """The ids (`jti`) of revoked access tokens that have not expired yet."""
        with self.db.get_session() as session:
            return sorted(self.issuer(session).revoked())

    @event_handler("users", "password_changed")
    def sign_out_everywhere(self, payload):
        """A new password (changed, or reset by e-mail): every session and access
        token of the account issued under an older one stops working. Idempotent:
        what is revoked stays revoked, and tokens of the new password are kept."""
        with self.db.get_session() as session:
            self.issuer(session).sign_out(f"user:{payload['user_id']}", payload["credentials_version"])

    @event_handler("users", "user_deleted")
    def sign_out_deleted(self, payload):
        """A deleted account: every session and access token of it stops working
        (its password is gone, so no new one is issued). Idempotent, as above."""
        self.sign_out_everywhere(payload)
