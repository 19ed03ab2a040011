"""Helpers for `nameko shell --config config.yaml`, where `n.rpc` reaches every service.

Search reads are public. For the rest, give the shell a token first:

    >>> from booking.shell import login, as_client
    >>> login(n, "ada@example.com", "analytical engine 1843")   # now calls carry Ada's token
    >>> n.rpc.users.me()
    >>> as_client(n, "developer", "dev-developer-secret")        # or a client-credentials token
    >>> n.rpc.users.get(1)
"""


def authorize(n, access_token):
    """Send `access_token` with every later call of `n.rpc` (nameko context data)."""
    n.rpc._worker_ctx.data["authorization"] = f"Bearer {access_token}"


def login(n, email, password):
    """Log in as a user (first-party login); returns the user."""
    tokens = n.rpc.auth.login(email=email, password=password)
    authorize(n, tokens["access_token"])
    return tokens["user"]


def as_client(n, client_id, client_secret, scope=None):
    """Act as an OAuth client (client credentials); returns the granted scope."""
    tokens = n.rpc.auth.token(grant_type="client_credentials", client_id=client_id,
                              client_secret=client_secret, scope=scope)
    authorize(n, tokens["access_token"])
    return tokens["scope"]
