"""A guest's journey through the web UI in a real browser (Debian's Chromium,
driven by Playwright), run as its own process so that eventlet's monkey-patching
in the test process stays out of Playwright's way.

    python tests/browser/journey.py BASE_URL ARTIFACTS_DIR

Exits 0 when every step behaved; each page's screenshot is kept in ARTIFACTS_DIR.
"""
import sys
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHECK_IN = date.today() + timedelta(days=30)
CHECK_OUT = CHECK_IN + timedelta(days=2)


def journey(base, artifacts):
    shots = iter(range(1, 100))

    def shot(page, name):
        page.screenshot(path=str(artifacts / f"{next(shots):02d}-{name}.png"), full_page=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True).new_page()
        page.set_default_timeout(20_000)

        page.goto(base + "/")
        page.get_by_label("City").fill("Paris")
        page.get_by_label("Check-in").fill(CHECK_IN.isoformat())
        page.get_by_label("Check-out").fill(CHECK_OUT.isoformat())
        page.get_by_label("Guests").fill("2")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("2 hotels in Paris")).to_be_visible()
        shot(page, "results")

        page.get_by_role("link", name="Le Petit Paris").click()
        expect(page.get_by_role("heading", name="Le Petit Paris")).to_be_visible()
        page.get_by_role("link", name="Log in to book").click()
        page.get_by_role("link", name="Create an account").first.click()
        page.get_by_label("Full name").fill("Zoë Ångström")
        page.get_by_label("E-mail address").fill("zoe@example.com")
        page.get_by_label("Password").fill("analytical engine 1843")
        shot(page, "register")
        page.get_by_role("button", name="Create my account").click()
        expect(page.get_by_text("zoe@example.com")).to_be_visible()
        shot(page, "account")

        hotel_url = f"{base}/hotels/3?check_in={CHECK_IN}&check_out={CHECK_OUT}&guests=2"
        page.goto(hotel_url)
        shot(page, "hotel")
        page.get_by_role("button", name="Book").first.click()
        expect(page.get_by_text("The room is held for you")).to_be_visible()
        shot(page, "held")
        pay(page, "4242424242424242")
        expect(page.get_by_role("link", name="Download the confirmation (PDF)")).to_be_visible(timeout=30_000)
        shot(page, "confirmed")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the confirmation (PDF)").click()
        pdf = artifacts / download.value.suggested_filename
        download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF"), "the confirmation is not a PDF"

        page.goto(hotel_url)
        page.get_by_role("button", name="Book").first.click()
        pay(page, "4000000000000002")
        expect(page.get_by_role("alert")).to_contain_text("declined")
        shot(page, "declined")

        page.get_by_role("link", name="My bookings").first.click()
        expect(page.get_by_text("cancelled")).to_be_visible()
        shot(page, "my-bookings")
        page.get_by_role("row").filter(has_text="confirmed").get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
        shot(page, "cancelled")
        browser.close()


def pay(page, number):
    page.get_by_label("Name on the card").fill("Zoë Ångström")
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill(str(date.today().year + 2))
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay").click()


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    journey(sys.argv[1].rstrip("/"), folder)
    print("the journey went as expected")
