"""The password policy and argon2id hashing (booking.users.passwords). Hashing runs
in eventlet's thread pool, which works here because tests/conftest.py monkey-patches."""
import pytest

from booking.kit.config import PROJECT_ROOT, load_config
from booking.kit.errors import ValidationFailed
from booking.users.exceptions import WeakPassword
from booking.users.passwords import PasswordHashing, check_policy

GOOD = "analytical engine 1843"
TOO_COMMON = "This password is too common or too easy to guess."


def reasons(password, email=""):
    """What `check_policy` says is wrong with `password`."""
    with pytest.raises(WeakPassword) as refusal:
        check_policy(password, email)
    assert isinstance(refusal.value, ValidationFailed) and refusal.value.http_status == 400
    return refusal.value.details["password"]


def test_a_long_uncommon_password_is_accepted():
    assert check_policy(GOOD) is None
    assert check_policy(GOOD, "ada.lovelace@example.com") is None


def test_fewer_than_twelve_characters_are_refused():
    assert reasons("engine 1843") == ["Use at least 12 characters."]
    assert check_policy("engine 18430") is None


@pytest.mark.parametrize("password", ["password1234", "PASSWORD1234", "PassWord1234", "correct horse battery staple",
                                      "Qwerty123456", "iloveyou1234"])
def test_a_common_password_is_refused_whatever_its_case(password):
    assert reasons(password) == [TOO_COMMON]


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "abcabcabcabc", "123456789012", "abcdefghijklmnop",
                                      "ababababababab", "987654321098", "QWERTYUIOPASDF", "zzzzyyyyzzzzyy"])
def test_a_trivial_password_is_refused(password):
    assert reasons(password) == [TOO_COMMON]


def test_a_password_containing_the_email_local_part_is_refused():
    assert reasons("my name is Lovelace 1843", "lovelace@example.com") == [
        "Do not put your e-mail address in your password."]


def test_every_reason_is_listed():
    assert reasons("adaada", "adaada@example.com") == [
        "Use at least 12 characters.",
        TOO_COMMON,
        "Do not put your e-mail address in your password.",
    ]


def test_an_overlong_password_is_refused():
    assert reasons("analytical engine " * 12) == ["Use at most 200 characters."]


# the product's cost, as config.yaml sets it
HASHING = PasswordHashing()


@pytest.fixture(scope="module")
def stored():
    return HASHING.hash(GOOD)


def test_a_password_is_stored_as_an_argon2id_hash_at_rfc_9106s_low_memory_cost(stored):
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert GOOD not in stored
    assert HASHING.hash(GOOD) != stored  # salted


def test_the_right_password_matches_its_hash(stored):
    assert HASHING.verify(stored, GOOD) is True


@pytest.mark.parametrize("attempt", ["analytical engine 1842", "Analytical engine 1843", "", GOOD + " "])
def test_a_wrong_password_does_not_match(stored, attempt):
    assert HASHING.verify(stored, attempt) is False


def test_no_hash_at_all_matches_nothing():
    assert HASHING.verify(None, GOOD) is False
    assert HASHING.verify(None, "not anybody's password") is False
    assert HASHING.verify("not a hash", GOOD) is False


def test_the_product_configs_hash_at_rfc_9106s_cost_and_a_hash_made_at_another_cost_still_matches(stored):
    for path in ("config.yaml", "config/postgres.yaml"):
        assert load_config(PROJECT_ROOT / path)["PASSWORD_HASHING"] == {
            "time_cost": 3, "memory_kib": 65536, "parallelism": 4}, path
    # the test profile's cheaper cost (config/test.yaml): the cost is in each hash, so
    # passwords stored before a change of cost verify after it, both ways
    cheap = PasswordHashing.from_config(load_config(PROJECT_ROOT / "config" / "test.yaml"))
    assert cheap.hash(GOOD).startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert cheap.verify(stored, GOOD) is True
    assert HASHING.verify(cheap.hash(GOOD), GOOD) is True
