"""Passwords: the policy, and argon2id hashing off the eventlet hub.

Hashing takes tens of milliseconds of CPU by design; in a real OS thread
(`eventlet.tpool`) it does not stall the other requests of the process.
"""
import re
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool

from booking.users.exceptions import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 200
HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory defaults
# verified against when the e-mail is unknown, so that timing says nothing
DUMMY_HASH = HASHER.hash("not anybody's password")
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


def hash_password(password):
    return tpool.execute(HASHER.hash, password)


def verify_password(password_hash, password):
    """True if `password` matches; works (slowly, as the real one) when the hash is None."""
    try:
        return tpool.execute(HASHER.verify, password_hash or DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
