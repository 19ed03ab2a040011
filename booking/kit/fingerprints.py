"""What an Idempotency-Key was first used for: a digest of the request, so that the
same key with another request is told apart (422) from a retry."""
import hashlib
import json


def fingerprint(fields):
    """The SHA-256 of `fields` (a dict of JSON values) in a canonical form. Kept
    stable: digests already stored must keep matching their retries."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
