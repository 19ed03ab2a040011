"""auth: OAuth2 tokens. Signing keys, clients, refresh tokens, revocations."""
