"""booking.kit.sealed: a password's cover for its way across the broker."""
import time

import pytest

from booking.kit.sealed import SEALED_TTL_SECONDS, seal, unseal

CONFIG = {"CREDENTIALS_KEY": "a key for the tests"}


def test_a_sealed_password_opens_with_the_key_and_shows_nothing_of_itself():
    sealed = seal("analytical engine 1843", CONFIG)

    assert "analytical" not in sealed
    assert unseal(sealed, CONFIG) == "analytical engine 1843"


def test_a_value_that_is_not_sealed_passes_as_it_is():
    assert unseal("typed in nameko shell", CONFIG) == "typed in nameko shell"
    assert seal(42, CONFIG) == 42  # left for the receiver's schema to refuse


def test_another_key_or_a_changed_seal_opens_nothing():
    sealed = seal("analytical engine 1843", CONFIG)

    with pytest.raises(ValueError):
        unseal(sealed, {"CREDENTIALS_KEY": "another key"})
    with pytest.raises(ValueError):
        unseal(sealed[:-6] + "AAAAAA", CONFIG)


def test_a_seal_copied_off_the_broker_opens_nothing_once_it_is_old(monkeypatch):
    sealed = seal("analytical engine 1843", CONFIG)
    later = time.time() + SEALED_TTL_SECONDS + 1
    monkeypatch.setattr("cryptography.fernet.time.time", lambda: later)

    with pytest.raises(ValueError):
        unseal(sealed, CONFIG)
