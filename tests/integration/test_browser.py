"""The web UI in a real browser: search, hotel, register, book, pay, confirmation and
its PDF, a declined card, my bookings, cancel after seeing the refund; then a family
comparing rate plans and booking two rooms in a demo hotel, paying, changing the
dates (paying the difference) and cancelling one room, then the rest. Screenshots of
every page, at desktop width and for some at 390 px, are kept under
var/test/artifacts/browser/guest/. Then every guest page at 360 and 390 px and on a
desktop (tests/browser/every_page.py: no sideways scrolling, the skip link, the
footer, a 404's navigation, the stars' contrast, dates from today, the buttons'
names, a booking with the keyboard alone), its screenshots as layout-*.png."""
import subprocess
import sys

import pytest
from sqlalchemy.orm import Session

from booking.kit.config import PROJECT_ROOT
from booking.kit.database import create_db_engine
from booking.search.seed import demo_hotels, restricted
from tests.integration.test_booking_saga import containers, saga_config, start_containers  # noqa: F401 (fixtures)

ARTIFACTS = PROJECT_ROOT / "var" / "test" / "artifacts" / "browser"


def journey_artifacts(journey):
    """The empty folder of one journey's screenshots. Each journey has its own, as the
    test groups run side by side: one journey clearing another's pictures failed a run."""
    folder = ARTIFACTS / journey
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    return folder
# the cities of tests/conftest.py's small catalogue, which the journey's first part counts on
SMALL_CATALOGUE_CITIES = {"Paris", "Zürich"}


def family_hotel():
    """The first demo hotel (booking/search/seed.py) the family can book as the journey
    does: in none of the small catalogue's cities, a calendar without closed days or
    minimum stays, a city tax, a double room, and a non-refundable plan beside the
    flexible one on every room type."""
    return next(hotel for hotel in demo_hotels()
                if hotel.city not in SMALL_CATALOGUE_CITIES and not restricted(hotel.id) and hotel.city_tax_minor
                and any(room.code == "double" for room in hotel.room_types)
                and all({"flexible", "nonrefundable"} <= {plan.code for plan in room.rate_plans}
                        for room in hotel.room_types))


@pytest.fixture
def family_hotel_id(db_uris):
    """The family's hotel, added to the small catalogue before the services start."""
    hotel = family_hotel()
    hotel_id = hotel.id
    engine = create_db_engine(db_uris["search"])
    with Session(engine) as session, session.begin():
        session.add(hotel)
    engine.dispose()
    return hotel_id


@pytest.mark.parametrize("db_uris", ["sqlite"], indirect=True)
def test_a_guest_books_pays_downloads_changes_and_cancels_in_chromium(family_hotel_id, containers,  # noqa: F811
                                                                      saga_config):  # noqa: F811
    artifacts = journey_artifacts("guest")
    journey = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "browser" / "journey.py"),
         f"http://{saga_config['WEB_SERVER_ADDRESS']}", str(artifacts), str(family_hotel_id)],
        capture_output=True, text=True, timeout=400,
    )
    # every guest page at 360 and 390 px and on a desktop, on the same stack (a guest of its own)
    pages = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "browser" / "every_page.py"),
         f"http://{saga_config['WEB_SERVER_ADDRESS']}", str(artifacts), str(family_hotel_id)],
        capture_output=True, text=True, timeout=300,
    )
    assert journey.returncode == 0, journey.stdout + journey.stderr
    assert pages.returncode == 0, pages.stdout + pages.stderr
    shots = sorted(path.name for path in artifacts.glob("*.png"))
    assert shots[:2] == ["01-results.png", "02-register.png"]
    for page in ("hotel-plans", "booking-held", "change", "cancel"):
        assert {f"{page}.png", f"{page}-390.png"} <= {name.split("-", 1)[1] for name in shots}, shots
    assert {"layout-11-not-found-360.png", "layout-17-my-bookings-390.png"} <= set(shots), shots


@pytest.fixture
def account_config(saga_config):  # noqa: F811
    """The stack's e-mails link to the stack itself, so that the browser follows them."""
    return {**saga_config, "PUBLIC_URL": f"http://{saga_config['WEB_SERVER_ADDRESS']}"}


@pytest.mark.parametrize("db_uris", ["sqlite"], indirect=True)
def test_a_guest_resets_verifies_and_changes_a_password_in_chromium(container_factory, account_config):
    """tests/browser/account_journey.py: forgot password through the outbox e-mail,
    reset, log in with the new password, verify the address, change the password,
    take a copy of the data, delete the account; its screenshots are account-*.png."""
    start_containers(container_factory, account_config)
    artifacts = journey_artifacts("account")
    journey = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "browser" / "account_journey.py"),
         account_config["PUBLIC_URL"], str(artifacts)],
        capture_output=True, text=True, timeout=300,
    )
    assert journey.returncode == 0, journey.stdout + journey.stderr
    shots = {path.name for path in artifacts.glob("account-*.png")}
    for page in ("forgot", "forgot-sent", "reset", "login-after-reset", "account-verified", "password-changed",
                 "data-ready", "delete", "deleted"):
        assert any(name.endswith(f"-{page}-390.png") for name in shots), (page, sorted(shots))
