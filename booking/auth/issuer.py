"""The auth use cases, each on one database session: issue, refresh, revoke, verify."""
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update

from booking.auth import grants, keys
from booking.auth.clients import authenticate, registry
from booking.auth.exceptions import OAuthError
from booking.auth.models import IssuedAccessToken, RefreshToken, RevokedAccessToken
from booking.auth.schemas import TokenResponse
from booking.kit.tokens import InvalidToken, public_keys, verify_access_token

# what a person who logs in to the web UI may do
USER_SCOPES = frozenset({"account", "bookings"})
# and what a role adds: a hotel manager runs the hotels search says are theirs; an
# operator runs the platform (every hotel, and who manages which)
ROLE_SCOPES = {"guest": frozenset(), "manager": frozenset({"partner"}), "operator": frozenset({"partner", "admin"})}


def user_scopes(role):
    """The scopes of a person's web token, by the role users keeps."""
    return USER_SCOPES | ROLE_SCOPES.get(role or "guest", frozenset())
WEB_CLIENT = "web"


@dataclass
class Settings:
    issuer: str
    audience: str
    passphrase: str
    access_ttl: int
    refresh_ttl: int
    reuse_grace: int
    clients: dict

    @classmethod
    def from_config(cls, config):
        return cls(
            issuer=config["TOKEN_ISSUER"], audience=config["TOKEN_AUDIENCE"],
            passphrase=config["SIGNING_KEY_PASSPHRASE"],
            access_ttl=int(config.get("ACCESS_TOKEN_TTL", 600)),
            refresh_ttl=int(config.get("REFRESH_TOKEN_TTL", 14 * 24 * 3600)),
            reuse_grace=int(config.get("REFRESH_REUSE_GRACE", grants.REUSE_GRACE_SECONDS)),
            clients=registry(config),
        )


class TokenIssuer:
    def __init__(self, session, settings):
        self.session = session
        self.settings = settings

    def signing_key(self):
        """The newest active key; the first one is made on first use."""
        active = keys.active_keys(self.session)
        if active:
            return active[0]
        key = keys.new_signing_key(self.settings.passphrase)
        self.session.add(key)
        self.session.flush()
        return key

    def jwks(self):
        self.signing_key()
        return keys.jwks(self.session)

    def issue(self, subject, client_id, scopes, with_refresh, family_id=None, user=None, credentials_version=None):
        """A token response; a person's tokens (`user:…`) are kept with the version of
        the password they are issued under (`credentials_version`), for `sign_out`."""
        key = self.signing_key()
        now, jti = grants.utcnow(), uuid.uuid4().hex
        token, expires_in = grants.access_token(
            kid=key.kid, private_key=keys.load_private_key(key, self.settings.passphrase),
            subject=subject, client_id=client_id, scopes=scopes, issuer=self.settings.issuer,
            audience=self.settings.audience, ttl=self.settings.access_ttl, now=now, jti=jti,
        )
        if subject.startswith("user:"):
            self.session.execute(delete(IssuedAccessToken).where(IssuedAccessToken.subject == subject,
                                                                 IssuedAccessToken.expires_at < now))
            self.session.add(IssuedAccessToken(jti=jti, subject=subject, credentials_version=credentials_version,
                                               expires_at=now + timedelta(seconds=expires_in)))
        response = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in,
                    "scope": " ".join(sorted(scopes))}
        if with_refresh:
            refresh, row = grants.new_refresh_token(
                subject=subject, client_id=client_id, scopes=scopes, family_id=family_id,
                ttl=self.settings.refresh_ttl, credentials_version=credentials_version,
            )
            self.session.add(row)
            response["refresh_token"] = refresh
        if user is not None:
            response["user"] = user
        return TokenResponse().dump(response)

    def client_credentials(self, client_id, client_secret, scope):
        client = authenticate(self.settings.clients, client_id, client_secret)
        return self.issue(f"client:{client.client_id}", client.client_id, client.grant(scope),
                          with_refresh=False)

    def refresh(self, refresh_token, client_id):
        """A new token pair for a refresh token, which is spent; None when the token
        had been spent already, in which case its whole family is now revoked."""
        if not refresh_token:
            raise OAuthError("refresh_token is required")
        now = grants.utcnow()
        row = self.session.get(RefreshToken, grants.hash_token(refresh_token))
        if grants.check_refresh(row, client_id or WEB_CLIENT, now, self.settings.reuse_grace):
            self.revoke_family(row.family_id, now)
            return None
        scopes = frozenset(row.scope.split())
        spent_now = self.session.execute(
            update(RefreshToken).where(RefreshToken.token_hash == row.token_hash, RefreshToken.used_at.is_(None))
            .values(used_at=now)).rowcount
        if not spent_now and row.successor_sealed:
            # a retry within the grace: a new access token, and the same successor
            answer = self.issue(row.subject, row.client_id, scopes, with_refresh=False,
                                credentials_version=row.credentials_version)
            return {**answer, "refresh_token": grants.unseal_successor(row.successor_sealed,
                                                                       self.settings.passphrase)}
        answer = self.issue(row.subject, row.client_id, scopes, with_refresh=True, family_id=row.family_id,
                            credentials_version=row.credentials_version)
        if spent_now:
            self.session.execute(update(RefreshToken).where(RefreshToken.token_hash == row.token_hash).values(
                successor_sealed=grants.seal_successor(answer["refresh_token"], self.settings.passphrase)))
        return answer

    def revoke(self, token):
        """RFC 7009: a refresh token revokes its family, an access token its `jti`;
        anything else is ignored."""
        now = grants.utcnow()
        row = self.session.get(RefreshToken, grants.hash_token(token))
        if row is not None:
            self.revoke_family(row.family_id, now)
            return
        try:
            caller = self.verify(token)
        except InvalidToken:
            return
        self.session.add(RevokedAccessToken(
            jti=caller.token_id, expires_at=datetime.fromtimestamp(caller.expires_at, UTC)))

    def revoke_family(self, family_id, now):
        self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def sign_out(self, subject, credentials_version):
        """Revoke every refresh token (so every session) and every live access token
        of `subject` issued under a password older than `credentials_version`; those
        issued under it, or a newer one, stay. Doing it twice changes nothing."""
        now = grants.utcnow()

        def older(column):
            return or_(column.is_(None), column < credentials_version)

        self.session.execute(update(RefreshToken).where(
            RefreshToken.subject == subject, older(RefreshToken.credentials_version),
            RefreshToken.revoked_at.is_(None)).values(revoked_at=now))
        live = self.session.execute(select(IssuedAccessToken.jti, IssuedAccessToken.expires_at).where(
            IssuedAccessToken.subject == subject, older(IssuedAccessToken.credentials_version),
            IssuedAccessToken.expires_at > now)).all()
        for jti, expires_at in live:
            if self.session.get(RevokedAccessToken, jti) is None:
                self.session.add(RevokedAccessToken(jti=jti, expires_at=expires_at))

    def revoked(self):
        return frozenset(self.session.scalars(
            select(RevokedAccessToken.jti).where(RevokedAccessToken.expires_at > grants.utcnow())))

    def verify(self, token):
        return verify_access_token(
            token, keys=public_keys(keys.jwks(self.session)), issuer=self.settings.issuer,
            audience=self.settings.audience, revoked=self.revoked(),
        )
