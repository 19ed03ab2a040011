"""The web UI in a real browser: search, hotel, register, book, pay, confirmation and
its PDF, a declined card, my bookings, cancel. Screenshots of every page are kept
under var/test/artifacts/browser/."""
import subprocess
import sys

import pytest

from booking.kit.config import PROJECT_ROOT
from tests.integration.test_booking_saga import containers, saga_config  # noqa: F401 (fixtures)

ARTIFACTS = PROJECT_ROOT / "var" / "test" / "artifacts" / "browser"


@pytest.mark.parametrize("db_uris", ["sqlite"], indirect=True)
def test_a_guest_books_pays_downloads_and_cancels_in_chromium(containers, saga_config):  # noqa: F811
    journey = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "browser" / "journey.py"),
         f"http://{saga_config['WEB_SERVER_ADDRESS']}", str(ARTIFACTS)],
        capture_output=True, text=True, timeout=240,
    )
    assert journey.returncode == 0, journey.stdout + journey.stderr
    assert sorted(path.name for path in ARTIFACTS.glob("*.png"))[:2] == ["01-results.png", "02-register.png"]
