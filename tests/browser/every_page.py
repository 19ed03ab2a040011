"""Every page a guest sees, in a real browser (Debian's Chromium, driven by Playwright),
at a phone's widths and at a desktop's: what a person would notice, measured.

    python tests/browser/every_page.py BASE_URL ARTIFACTS_DIR [HOTEL_ID]

On each page: it does not scroll sideways at 360 or 390 px; the first Tab reaches
"Skip to content", which moves the focus to the page's main content; the footer
links to help, terms and privacy. Besides: the stars' contrast is at least 4.5:1,
date inputs offer no past day, a 404 has the site's header (with the guest's own
links once logged in), a search for more guests than any room sleeps says why it
found nothing, a page past the last shows the last, a 405 knows the guest too,
Book and Cancel buttons say which room or booking, and a room is booked (held,
then paid) with the keyboard alone. It signs up a guest of its own. HOTEL_ID is a hotel with several room types
(the hotel page of three rooms); Le Petit Paris of the small catalogue by default.

Screenshots go to ARTIFACTS_DIR as layout-NN-<page>.png (desktop), -360.png and
-390.png. Exits 0 when every page behaved.
"""
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from journey import CHROMIUM_FLAGS, DESKTOP, PHONES  # noqa: E402

CHECK_IN = date.today() + timedelta(days=40)
CHECK_OUT = CHECK_IN + timedelta(days=2)
STAY = f"check_in={CHECK_IN}&check_out={CHECK_OUT}"
FOOTER_LINKS = ("Help and contact", "Terms", "Privacy")
MIN_CONTRAST = 4.5

# the colour of an element's text and of the first background behind it that is not transparent
COLOURS = """element => {
    const rgb = text => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
    let behind = element, background = [0, 0, 0, 0];
    while (behind) {
        background = rgb(getComputedStyle(behind).backgroundColor);
        if (background.length < 4 || background[3] > 0) break;
        behind = behind.parentElement;
    }
    return {text: rgb(getComputedStyle(element).color), background: behind ? background : [255, 255, 255]};
}"""


def luminance(rgb):
    def linear(channel):
        channel /= 255
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(channel) for channel in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first, second):
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


class Inspector:
    """Looks at each page as it is, measures it and keeps its screenshots."""

    def __init__(self, page, artifacts):
        self.page = page
        self.artifacts = artifacts
        self.count = 0

    def visit(self, url, name):
        self.page.goto(url)
        self.check(name)

    def check(self, name):
        """Every page's checks, then its screenshots at desktop width, 360 and 390 px."""
        page = self.page
        footer = page.get_by_role("contentinfo")
        for link in FOOTER_LINKS:
            expect(footer.get_by_role("link", name=link, exact=True)).to_be_visible()
        self.skip_link(name)
        self.count += 1
        stem = self.artifacts / f"layout-{self.count:02d}-{name}"
        page.screenshot(path=f"{stem}.png", full_page=True)
        for width in PHONES:
            page.set_viewport_size({"width": width, "height": 800})
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px wide"
            page.screenshot(path=f"{stem}-{width}.png", full_page=True)
        page.set_viewport_size(DESKTOP)

    def skip_link(self, name):
        """The first Tab reaches "Skip to content"; Enter moves the focus to the main content."""
        page = self.page  # just loaded: the focus is at the start of the document
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.textContent.trim()")
        assert first == "Skip to content", f"{name}: the first Tab reaches {first!r}, not the skip link"
        assert page.locator(".skip-link").evaluate("link => link.getBoundingClientRect().top >= 0"), \
            f"{name}: the focused skip link is not shown"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content", f"{name}: the skip link does not reach main"

    def stars_contrast(self, name):
        for stars in self.page.locator(".stars").all():
            colours = stars.evaluate(COLOURS)
            ratio = contrast(colours["text"], colours["background"])
            assert ratio >= MIN_CONTRAST, f"{name}: the stars' contrast is {ratio:.2f}:1"

    def dates_from_today(self, name):
        """No date input offers a past day: check-in from today, check-out from tomorrow."""
        page = self.page
        today = date.today()
        assert page.locator("input[name=check_in]").get_attribute("min") == today.isoformat(), name
        assert page.locator("input[name=check_out]").get_attribute("min") == (today + timedelta(1)).isoformat(), name

    def tab_to(self, target, limit=120):
        """Press Tab until `target` (a locator) has the focus; its focus must show."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                outline = target.evaluate("element => getComputedStyle(element).outlineStyle")
                assert outline not in ("none", ""), "the focused element shows no outline"
                return
        raise AssertionError(f"{limit} Tabs never reached {target}")


def every_page(base, artifacts, hotel_id):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(20_000)
        look = Inspector(page, artifacts)

        # a visitor
        look.visit(f"{base}/?city=Paris&{STAY}&guests=2", "results")
        look.dates_from_today("results")
        look.stars_contrast("results")
        look.visit(f"{base}/?city=Paris&guests=7", "results-too-many-guests")
        expect(page.get_by_role("status")).to_contain_text("the largest sleeps 4")
        page.get_by_role("link", name="Show hotels with 2 rooms for 7 guests").click()
        expect(page.get_by_text("with 2 rooms for 7 guests")).to_be_visible()
        look.check("results-two-rooms")
        look.visit(f"{base}/?city=Paris&per_page=1&page=99", "results-past-the-end")
        expect(page.get_by_text("Page 2 of 2")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("There is no page 99")
        look.visit(f"{base}/hotels/{hotel_id}?{STAY}&guests=2", "hotel")
        look.dates_from_today("hotel")
        look.stars_contrast("hotel")
        look.visit(f"{base}/login", "login")
        look.visit(f"{base}/register", "register")
        for info in ("help", "terms", "privacy"):
            look.visit(f"{base}/{info}", info)
        look.visit(f"{base}/no/such/page", "not-found")
        expect(page.get_by_role("heading", name="We could not find that")).to_be_visible()
        expect(page.get_by_role("navigation", name="Account").get_by_role("link", name="Log in")).to_be_visible()

        # a guest of its own
        page.goto(f"{base}/register")
        page.get_by_label("Full name").fill("Ada Lovelace")
        page.get_by_label("E-mail address").fill(f"layout-{uuid.uuid4().hex[:8]}@example.com")
        page.get_by_label("Password").fill("analytical engine 1843")
        page.get_by_role("button", name="Create my account").click()
        expect(page.get_by_role("link", name="My bookings")).to_be_visible()
        look.visit(f"{base}/no/such/page", "not-found-logged-in")
        account = page.get_by_role("navigation", name="Account")
        expect(account.get_by_role("link", name="My bookings")).to_be_visible()
        expect(account.get_by_role("button", name="Log out")).to_be_visible()
        expect(account.get_by_role("link", name="Log in")).to_have_count(0)
        # a wrong method is refused before any route runs: its page still knows the guest
        wrong = page.context.request.put(f"{base}/account")
        assert wrong.status == 405 and "Log out" in wrong.text() and 'href="/login"' not in wrong.text()
        look.visit(f"{base}/hotels/{hotel_id}?{STAY}&guests=6&rooms=3", "hotel-three-rooms")
        expect(page.get_by_role("heading", name="Book 3 rooms")).to_be_visible()

        # booking with the keyboard alone: Tab to the button that names the room and rate, Enter
        look.visit(f"{base}/hotels/3?{STAY}&guests=2", "hotel-logged-in")
        book = page.get_by_role("button", name="Book Double, Flexible rate")  # the small catalogue names rooms so
        expect(book).to_have_count(1)
        look.tab_to(book)  # from the main content, where the skip link left the focus
        page.keyboard.press("Enter")
        expect(page.get_by_text("The room is held for you")).to_be_visible()
        reference = page.url.rstrip("/").rsplit("/", 1)[1]
        look.check("booking-held")
        for label, typed in (("Name on the card", "Ada Lovelace"), ("Card number", "4242 4242 4242 4242"),
                             ("Expiry month", "12"), ("Expiry year", str(date.today().year + 2)), ("CVC", "123")):
            look.tab_to(page.get_by_label(label))
            page.keyboard.type(typed)
        look.tab_to(page.get_by_role("button", name="Pay"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Download the confirmation (PDF)")).to_be_visible(timeout=30_000)
        look.check("booking-confirmed")

        look.visit(f"{base}/bookings", "my-bookings")
        expect(page.get_by_role("button", name=f"Cancel booking {reference}")).to_be_visible()
        look.visit(f"{base}/account", "account")
        browser.close()


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    every_page(sys.argv[1].rstrip("/"), folder, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    print("every page went as expected")
