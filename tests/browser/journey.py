"""A guest's journey through the web UI in a real browser (Debian's Chromium,
driven by Playwright), run as its own process so that eventlet's monkey-patching
in the test process stays out of Playwright's way.

    python tests/browser/journey.py BASE_URL ARTIFACTS_DIR [FAMILY_HOTEL_ID]

First a guest searches Paris, is asked to log in to book, signs up (first with a
mistake in every field) and is back at the hotel, books a room of Le Petit Paris,
pays, downloads the confirmation; books another, has a card declined and the bank
fail, keeps the hold, logs in again mid-payment and pays with another card; and
cancels from My bookings after seeing the refund. Then a family compares the rate plans of FAMILY_HOTEL_ID (a demo
hotel with a city tax, a double room and a non-refundable plan beside the flexible
one, no closed days), books two doubles for two adults and two children, pays,
stays a night longer (paying the difference with a test card), cancels one room and
then the other, each time seeing the refund first.

Exits 0 when every step behaved; each page's screenshot is kept in ARTIFACTS_DIR,
some also at a phone's width (390 px, "-390"), where no page may scroll sideways
(checked at 360 px too).
"""
import re
import sys
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHECK_IN = date.today() + timedelta(days=30)
CHECK_OUT = CHECK_IN + timedelta(days=2)
DESKTOP = {"width": 1100, "height": 900}
PHONES = (360, 390)  # widths no page may overflow; the screenshot is at the last
FAMILY_HOTEL_ID = 181  # what tests/integration/test_browser.py finds in the demo catalogue today


def amount_of(text):
    """123.40 from '123.40 EUR' (a thousand separator never appears)."""
    return float(re.search(r"(\d+(?:\.\d+)?)", text).group(1))


class Camera:
    """Screenshots of each page, numbered, kept in `artifacts` (named after `prefix`)."""

    def __init__(self, artifacts, prefix="", phone=False):
        self.artifacts, self.prefix, self.phone = artifacts, prefix, phone
        self.count = 0

    def shot(self, page, name, phone=None):
        """The page at desktop width and, with `phone`, at 390 px wide too (after
        checking that it does not scroll sideways at 360 or 390 px)."""
        self.count += 1
        stem = f"{self.prefix}{self.count:02d}-{name}"
        page.screenshot(path=str(self.artifacts / f"{stem}.png"), full_page=True)
        if self.phone if phone is None else phone:
            for width in PHONES:
                page.set_viewport_size({"width": width, "height": 844})
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px wide"
            page.screenshot(path=str(self.artifacts / f"{stem}-390.png"), full_page=True)
            page.set_viewport_size(DESKTOP)


def journey(base, artifacts, family_hotel_id):
    camera = Camera(artifacts)
    shot = camera.shot

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP, accept_downloads=True).new_page()
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
        page.locator("main").get_by_role("link", name="Create an account").click()
        page.get_by_label("Full name").fill("Zoë Ångström")
        page.get_by_label("E-mail address").fill("zoe@example.com")
        page.get_by_label("Password").fill("analytical engine 1843")
        shot(page, "register")
        # every mistake at once, next to its field, in words; what was typed stays (not the password)
        page.get_by_label("Full name").fill(" ")
        page.get_by_label("E-mail address").fill("zoe@example")
        page.get_by_label("Password").fill("password")
        page.get_by_role("button", name="Create my account").click()
        for field, problem in (("Full name", "Please fill this in (at most 200 characters)."),
                               ("E-mail address", "Enter an e-mail address such as name@example.com."),
                               ("Password", "Use at least 12 characters.")):
            expect(page.get_by_label(field)).to_have_attribute("aria-invalid", "true")
            expect(page.get_by_label(field)).to_have_accessible_description(re.compile(re.escape(problem)))
        expect(page.get_by_label("E-mail address")).to_have_value("zoe@example")
        expect(page.get_by_label("Password")).to_have_value("")
        shot(page, "register-errors", phone=True)
        page.get_by_label("Full name").fill("Zoë Ångström")
        page.get_by_label("E-mail address").fill("zoe@example.com")
        page.get_by_label("Password").fill("analytical engine 1843")
        page.get_by_role("button", name="Create my account").click()
        # back where the guest was going: the hotel, for the same stay
        expect(page.get_by_role("heading", name="Le Petit Paris")).to_be_visible()
        assert f"check_in={CHECK_IN}" in page.url, page.url

        page.get_by_role("link", name="Zoë Ångström").click()
        expect(page.get_by_text("zoe@example.com")).to_be_visible()
        page.get_by_label("Full name").fill("   ")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_label("Full name")).to_have_attribute("aria-invalid", "true")
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

        # a refused card keeps the hold: the page says why and takes another card
        page.goto(hotel_url)
        page.get_by_role("button", name="Book").first.click()
        expect(page.locator(".hold-clock")).to_contain_text("minutes left")
        second = page.url
        pay(page, "4000000000000002")
        expect(page.get_by_role("alert")).to_contain_text("Your bank declined this card. Nothing was charged.")
        expect(page.get_by_role("alert")).to_contain_text("still held for you until")
        expect(page.get_by_label("Name on the card")).to_have_value("Zoë Ångström")
        expect(page.get_by_label("Card number")).to_have_value("")
        shot(page, "declined", phone=True)
        pay(page, "4000000000000119")
        expect(page.get_by_role("alert")).to_contain_text("The bank could not take the payment just now. "
                                                          "Nothing was charged: please try again")
        # the session ends while the guest types another card: logging in again comes back here
        page.context.clear_cookies()
        pay(page, "4242424242424242")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.get_by_label("E-mail address").fill("zoe@example.com")
        page.get_by_label("Password").fill("analytical engine 1843")
        page.get_by_role("button", name="Log in").click()
        assert page.url == second, page.url
        pay(page, "4242424242424242")
        expect(page.get_by_role("link", name="Download the confirmation (PDF)")).to_be_visible(timeout=30_000)

        page.get_by_role("link", name="My bookings").first.click()
        expect(page.locator(".status-confirmed")).to_have_count(2)  # the refused cards left nothing behind
        expect(page.locator(".status-cancelled")).to_have_count(0)
        shot(page, "my-bookings", phone=True)
        # cancelling from the list shows what it refunds first
        page.get_by_role("row").filter(has_text="confirmed").first.get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("heading", name="Cancel your booking?")).to_be_visible()
        expect(page.get_by_text("Cancelling now is free.")).to_be_visible()
        refund = page.locator(".outcome dd").first.inner_text()
        shot(page, "cancel-review")
        page.get_by_role("button", name="Cancel the booking").click()
        expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text(f"{refund} is refunded to your card")
        shot(page, "cancelled")
        page.get_by_role("link", name="My bookings").first.click()
        expect(page.get_by_role("button", name="Cancel")).to_have_count(1)

        family(page, base, family_hotel_id, shot)
        browser.close()


def family(page, base, hotel_id, shot):
    """Two adults and two children compare plans, book two doubles, pay, stay a night
    longer, cancel one room and then the other."""
    page.goto(f"{base}/hotels/{hotel_id}?check_in={CHECK_IN}&check_out={CHECK_OUT}&guests=2")
    double = page.locator("section.room-type").filter(has=page.get_by_role("heading", name="Double Room"))
    flexible = double.locator("li.plan").filter(has_text="Flexible")
    nonrefundable = double.locator("li.plan").filter(has_text="Non-refundable")
    expect(flexible.locator(".policy")).to_contain_text("Free cancellation until")
    expect(nonrefundable.locator(".policy")).to_contain_text("Non-refundable: the whole price")
    flexible_price = amount_of(flexible.locator(".plan-price strong").inner_text())
    assert amount_of(nonrefundable.locator(".plan-price strong").inner_text()) < flexible_price, \
        "the non-refundable rate is not the cheaper one"
    expect(page.get_by_text("per adult per night, added to the price")).to_be_visible()
    expect(page.get_by_text("Prices include VAT")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Check-in from \d\d:\d\d"))).to_be_visible()
    shot(page, "hotel-plans", phone=True)

    page.locator("select[name=rooms]").select_option("2")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_role("heading", name="Book 2 rooms")).to_be_visible()
    for room, child in ((1, "8"), (2, "5")):
        page.locator(f"select[name=room_{room}]").select_option("double:flexible")
        page.locator(f"select[name=adults_{room}]").select_option("1")
        page.locator(f"input[name=children_{room}]").fill(child)
    shot(page, "hotel-two-rooms", phone=True)
    # one adult and three children are one person too many for a double: said next to the field
    page.locator("input[name=children_1]").fill("8, 5, 3")
    page.get_by_role("button", name="Book 2 rooms").click()
    expect(page.get_by_role("alert")).to_contain_text("sleeps at most 3 people")
    expect(page.locator("#children_1-error")).to_contain_text("sleeps at most 3 people")
    expect(page.locator("input[name=children_2]")).to_have_value("5")
    shot(page, "hotel-refused")
    page.locator("input[name=children_1]").fill("8")
    page.get_by_role("button", name="Book 2 rooms").click()

    expect(page.get_by_text("The rooms are held for you")).to_be_visible()
    for line, child in ((1, "8"), (2, "5")):
        room = page.locator("section.booked-room").filter(has=page.get_by_role("heading", name=f"Room {line}:"))
        expect(room).to_contain_text("Double Room")
        expect(room).to_contain_text(f"1 adult, 1 child ({child})")
        expect(room.locator("table.nights tbody tr")).to_have_count(2)  # each night's price
        expect(room.locator(".policy")).to_contain_text("Free cancellation until")
    expect(page.get_by_role("row", name=re.compile(r"of which VAT \(\d+%\), included"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("City tax, added"))).to_be_visible()
    total = amount_of(page.get_by_role("row", name=re.compile("^Total")).inner_text())
    assert total > 2 * flexible_price, "the total lacks the city tax"  # two rooms, with their city tax
    shot(page, "booking-held", phone=True)
    pay(page, "4242424242424242")
    expect(page.get_by_role("link", name="Change dates")).to_be_visible(timeout=30_000)
    shot(page, "booking-confirmed", phone=True)

    page.get_by_role("link", name="My bookings").first.click()
    expect(page.get_by_role("row").filter(has_text="2 rooms")).to_be_visible()
    shot(page, "my-bookings-family", phone=True)
    page.get_by_role("row").filter(has_text="2 rooms").get_by_role("link").first.click()

    page.get_by_role("link", name="Change dates").click()
    expect(page.get_by_role("heading", name="Change the dates")).to_be_visible()
    page.get_by_label("New check-out").fill(CHECK_IN.isoformat())  # no night at all
    page.get_by_role("button", name="See the new price").click()
    expect(page.get_by_role("alert")).to_contain_text("Please check")
    expect(page.locator("#check_out-error")).to_contain_text("Check-out must be after check-in")
    shot(page, "change-refused")
    page.get_by_label("New check-out").fill((CHECK_OUT + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="See the new price").click()
    expect(page.get_by_role("row", name=re.compile("To pay now"))).to_be_visible()
    difference = amount_of(page.get_by_role("row", name=re.compile("To pay now")).inner_text())
    assert difference > 0
    for room in page.locator("section.booked-room").all():
        expect(room.locator("table.nights tbody tr")).to_have_count(3)
    shot(page, "change", phone=True)
    pay(page, "4242424242424242")
    expect(page.get_by_role("status").filter(has_text="Your booking is changed")).to_contain_text("You paid")
    expect(page.get_by_text("(3 nights)")).to_be_visible()
    assert abs(amount_of(page.get_by_role("row", name=re.compile("^Total")).inner_text()) - (total + difference)) < .005
    shot(page, "booking-changed", phone=True)

    page.get_by_role("link", name="Cancel", exact=True).click()
    expect(page.get_by_role("heading", name="Cancel your booking?")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel all 2 rooms")).to_be_visible()
    room_two = page.locator("section.cancel-choice").filter(has=page.get_by_role("heading", name="Room 2:"))
    refund = room_two.locator(".outcome dd").first.inner_text()
    shot(page, "cancel", phone=True)
    room_two.get_by_role("button", name="Cancel room 2 only").click()
    expect(page.get_by_role("heading", name="Room 2 cancelled")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"{refund} is refunded to your card")
    shot(page, "cancelled-room", phone=True)

    page.get_by_role("link", name="See the booking").click()
    expect(page.get_by_text("Cancelled: Double Room (room 2)")).to_be_visible()
    page.get_by_role("link", name="Cancel", exact=True).click()
    refund = page.locator(".outcome dd").first.inner_text()
    page.get_by_role("button", name="Cancel the booking").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"{refund} is refunded to your card")
    shot(page, "cancelled-all")
    page.get_by_role("link", name="See the booking").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^Refunded"))).to_be_visible()
    expect(page.get_by_role("link", name="Change dates")).to_have_count(0)
    shot(page, "booking-cancelled", phone=True)


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
    journey(sys.argv[1].rstrip("/"), folder, int(sys.argv[3]) if len(sys.argv) > 3 else FAMILY_HOTEL_ID)
    print("the journey went as expected")
