"""OAuth clients come from the config (`OAUTH_CLIENTS`): each service has one, for
its own client-credentials token, and developers have theirs."""
import hmac
from dataclasses import dataclass

from booking.auth.exceptions import InvalidClient, InvalidScope


@dataclass(frozen=True)
class Client:
    client_id: str
    scopes: frozenset
    secret: str | None = None  # None: a public first-party client (the web UI)

    def grant(self, requested):
        """The scopes to grant for `requested` (a space-separated string, or all)."""
        if not requested:
            return self.scopes
        wanted = frozenset(requested.split())
        if not wanted <= self.scopes:
            raise InvalidScope(details={"not_allowed": " ".join(sorted(wanted - self.scopes))})
        return wanted


def registry(config):
    return {
        client_id: Client(client_id, frozenset((spec.get("scopes") or "").split()), spec.get("secret"))
        for client_id, spec in (config.get("OAUTH_CLIENTS") or {}).items()
    }


def authenticate(clients, client_id, client_secret):
    """The confidential client whose secret this is; `InvalidClient` otherwise."""
    client = clients.get(client_id or "")
    expected = (client.secret or None) if client else None  # an empty secret is no secret
    # compare even when the client is unknown, so timing says nothing
    matches = hmac.compare_digest((expected or "\0").encode(), (client_secret or "").encode())
    if client is None or expected is None or not matches:
        raise InvalidClient()
    return client
