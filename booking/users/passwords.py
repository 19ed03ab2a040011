"""Passwords: the policy, and argon2id hashing off the eventlet hub.

Hashing takes a fifth of a second of CPU by design; in a real OS thread
(`eventlet.tpool`) it does not stall the other requests of the process. Its cost
is the config's PASSWORD_HASHING; each hash records its own, so a changed cost
applies to the passwords set afterwards and every stored one still verifies.
"""
import re
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool
from nameko.extensions import DependencyProvider

from booking.users.exceptions import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 200
COMMON = frozenset(
    line.strip().lower()
    for line in resources.files("booking.users").joinpath("common_passwords.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


def check_policy(password, email=""):
    """Raise `WeakPassword` saying why, or return None."""
    problems = []
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if lowered in COMMON or _is_trivial(lowered):
        problems.append("This password is too common or too easy to guess.")
    local_part = email.split("@")[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        problems.append("Do not put your e-mail address in your password.")
    if problems:
        raise WeakPassword(details={"password": problems})


SEQUENCES = ("0123456789" * 4, "9876543210" * 4, "abcdefghijklmnopqrstuvwxyz" * 2,
             "qwertyuiopasdfghjklzxcvbnm" * 2)


def _is_trivial(text):
    return (
        len(set(text)) <= 3
        # one short run repeated: "abcabcabcabc", "123412341234"
        or re.fullmatch(r"(.{1,6})\1+", text) is not None
        or any(text in sequence for sequence in SEQUENCES)
    )


class PasswordHashing:
    """argon2id at a cost: by default RFC 9106's low-memory choice (3 passes over
    64 MiB, 4 lanes), as argon2-cffi's defaults."""

    def __init__(self, time_cost=3, memory_kib=65536, parallelism=4):
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # verified against when the e-mail is unknown, so that timing says nothing
        self.dummy_hash = self.hasher.hash("not anybody's password")

    @classmethod
    def from_config(cls, config):
        """At the config's PASSWORD_HASHING cost ({time_cost, memory_kib, parallelism})."""
        return cls(**config.get("PASSWORD_HASHING") or {})

    def hash(self, password):
        return tpool.execute(self.hasher.hash, password)

    def verify(self, password_hash, password):
        """True if `password` matches; works (as slowly as the real one) when the hash is None."""
        try:
            return tpool.execute(self.hasher.verify, password_hash or self.dummy_hash, password) \
                and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False


class Passwords(DependencyProvider):
    """The service's `PasswordHashing`, at the config's PASSWORD_HASHING cost
    ({time_cost, memory_kib, parallelism}; RFC 9106's low-memory choice if unset)."""

    def setup(self):
        self.hashing = PasswordHashing.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.hashing
