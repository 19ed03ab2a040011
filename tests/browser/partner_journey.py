"""A hotel manager's journey through the partner pages in a real browser (Debian's
Chromium, driven by Playwright), run as its own process like journey.py.

    python tests/browser/partner_journey.py BASE_URL ARTIFACTS_DIR HOTEL_ID MANAGER_EMAIL PASSWORD RESERVATION_ID

The manager logs in, raises next weekend's price of the hotel's double rooms and
closes a night in the calendar, sees both as a guest would (the hotel page, the
search), finds the booking RESERVATION_ID (a guest's, arriving today) in the
reservations and checks it in, and downloads the month's report as PDF, kept with a
PNG of its first page (pdftoppm). Every partner page is kept as a screenshot at
desktop width and at 390 px (partner-*.png), after checking that it does not scroll
sideways at 360 or 390 px (the calendar's grid scrolls inside its own box).

Exits 0 when every step behaved.
"""
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from journey import CHROMIUM_FLAGS, DESKTOP, Camera  # noqa: E402


def hotel_today():
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def next_weekend():
    """(Friday, Sunday) of the next weekend at least 3 days away (as tests/integration/test_partner.py)."""
    friday = hotel_today() + timedelta(days=3)
    friday += timedelta(days=(4 - friday.weekday()) % 7)
    return friday, friday + timedelta(days=2)


def bulk_edit(page, room_type, first, last, **change):
    """The calendar's form "Change several nights"."""
    form = page.locator("form.partner-bulk")
    form.locator("select[name=room_type]").select_option(label=room_type)
    form.locator("select[name=rate_plan]").select_option("*")
    form.get_by_label("First night").fill(first.isoformat())
    form.get_by_label("Last night").fill(last.isoformat())
    if "price" in change:
        form.get_by_label(re.compile("Price a night")).fill(change["price"])
    if "closed" in change:
        form.locator("select[name=closed]").select_option(change["closed"])
    form.get_by_role("button", name="Save these nights").click()


def journey(base, artifacts, hotel_id, email, password, reservation_id):
    camera = Camera(artifacts, prefix="partner-", phone=True)
    shot = camera.shot
    friday, sunday = next_weekend()
    closed = hotel_today() + timedelta(days=20)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
        page.set_default_timeout(20_000)

        page.goto(base + "/partner")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="My hotels")).to_be_visible()
        expect(page.get_by_role("link", name="Partner")).to_be_visible()
        hotel_name = page.locator(".partner-hotel h2").first.inner_text()
        expect(page.locator(".partner-today").first).to_contain_text("arrival")
        shot(page, "hotels")

        # next weekend dearer
        page.locator(".partner-hotel").filter(has_text=hotel_name).get_by_role("link", name="Calendar").click()
        expect(page.get_by_role("heading", name=re.compile("Calendar"))).to_be_visible()
        page.goto(f"{base}/partner/hotels/{hotel_id}/calendar?month={friday:%Y-%m}")
        room_type = page.locator("form.partner-bulk select[name=room_type] option").first.inner_text()
        bulk_edit(page, room_type, friday, friday + timedelta(days=1), price="230.00")
        expect(page.get_by_role("status")).to_contain_text(f"Saved for {room_type}, every plan")
        expect(page.get_by_role("status")).to_contain_text("price 230.00")
        shot(page, "calendar")

        # a night closed
        bulk_edit(page, room_type, closed, closed, closed="close")
        expect(page.get_by_role("status")).to_contain_text("closed")
        assert f"month={closed:%Y-%m}" in page.url, page.url
        expect(page.locator("td.cal-closed").first).to_be_visible()
        shot(page, "calendar-closed")

        # both, as guests see them
        page.goto(f"{base}/hotels/{hotel_id}?check_in={friday}&check_out={sunday}&guests=2")
        expect(page.locator("li.plan").filter(has_text="Flexible").first).to_contain_text("460.00")
        page.goto(f"{base}/?city=Paris&check_in={closed}&check_out={closed + timedelta(days=1)}&guests=2")
        expect(page.locator(".hotels")).not_to_contain_text(hotel_name)
        page.goto(f"{base}/?city=Paris&check_in={closed + timedelta(days=1)}&check_out={closed + timedelta(days=2)}"
                  "&guests=2")
        expect(page.locator(".hotels")).to_contain_text(hotel_name)

        # the guest's booking, and checking it in
        page.goto(f"{base}/partner/hotels/{hotel_id}/reservations")
        page.get_by_role("link", name="Today's arrivals").click()
        row = page.get_by_role("row").filter(has_text=reservation_id)
        expect(row).to_contain_text("Confirmed")
        shot(page, "reservations")
        row.get_by_role("button", name=f"Check in booking {reservation_id}").click()
        expect(page.get_by_role("status")).to_contain_text(f"Checked in: booking {reservation_id}")
        expect(page.get_by_role("row").filter(has_text=reservation_id)).to_contain_text("Checked in")
        expect(page.get_by_role("button", name=f"Check out booking {reservation_id}")).to_be_visible()
        shot(page, "reservations-checked-in")

        page.goto(f"{base}/partner/hotels/{hotel_id}")
        expect(page.get_by_role("heading", name="Room types")).to_be_visible()
        shot(page, "profile")
        page.get_by_text(f"Edit {room_type}").click()
        form = page.get_by_role("form", name=f"Edit {room_type}")
        form.get_by_label("Rooms").fill("0")
        form.get_by_role("button", name=f"Save {room_type}").click()
        expect(page.get_by_role("alert")).to_contain_text("more are sold on some nights")
        expect(page.get_by_label("Rooms").first).to_have_attribute("aria-invalid", "true")
        shot(page, "profile-rooms-sold")

        page.goto(f"{base}/partner/hotels/{hotel_id}/report")
        expect(page.get_by_text("Occupancy").first).to_be_visible()
        shot(page, "report")
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download PDF")).click()
        pdf = artifacts / "partner-report.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF"), "the report is not a PDF"
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(artifacts / "partner-report")], check=True)
        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download CSV")).click()
        assert download.value.suggested_filename.endswith(".csv")
        browser.close()
    print(f"{camera.count} partner pages, each at desktop width and 390 px")


if __name__ == "__main__":
    base_url, artifacts_dir, hotel, manager, secret, reference = sys.argv[1:7]
    journey(base_url, Path(artifacts_dir), int(hotel), manager, secret, reference)
