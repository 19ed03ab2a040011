"""A guest's account in a real browser (Debian's Chromium, driven by Playwright), run
as its own process as tests/browser/journey.py is.

    python tests/browser/account_journey.py BASE_URL ARTIFACTS_DIR

The guest signs up, sees the address is not verified yet and asks for the link again;
changes the password (first with a wrong current one, the error next to its field);
logs out, forgets the password, asks for a link on the "Forgot your password?" page,
reads the e-mail in the development outbox (/dev/outbox), follows its link, is refused
a weak password, sets a good one and logs in with it; opens the verification link and
sees the address verified; finds the spent reset link refused; asks for a copy of
her data, reads the e-mail that says it is ready and downloads the ZIP; and deletes
the account (a wrong password first), gets the last e-mail, and can no longer log in.
The e-mails' links name BASE_URL (the stack's PUBLIC_URL).

Exits 0 when every step behaved; each page's screenshot is kept in ARTIFACTS_DIR as
account-NN-name.png, and at a phone's width as account-NN-name-390.png, where no page
may scroll sideways (checked at 360 px too).
"""
import re
import sys
import zipfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from journey import CHROMIUM_FLAGS, DESKTOP, Camera  # noqa: E402

EMAIL = "marie@example.com"
FIRST, SECOND, THIRD = "radium and polonium 1898", "nobel prize twice 1911", "sorbonne lecture hall 1906"


def mail_text(page, base, subject):
    """The text of the newest e-mail of `subject` in the development outbox (waiting
    for it: some are sent a moment after the page that asked for them)."""
    for _ in range(60):
        page.goto(base + "/dev/outbox")
        if page.get_by_role("link", name=subject).count():
            break
        page.wait_for_timeout(500)
    page.get_by_role("link", name=subject).first.click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    return page.locator("pre.mail").inner_text()


def link_from_outbox(page, base, subject, path):
    """Open the newest e-mail of `subject` in the development outbox and return its link to `path`."""
    text = mail_text(page, base, subject)
    link = re.search(rf"{re.escape(base)}{re.escape(path)}\?token=[A-Za-z0-9_-]+", text)
    assert link, f"no link to {path} in the e-mail: {text!r}"
    return link.group(0)


def field(page, label):
    return page.get_by_label(label, exact=True)


def journey(base, artifacts):
    camera = Camera(artifacts, prefix="account-", phone=True)
    shot = camera.shot

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.set_default_timeout(20_000)

        page.goto(base + "/register")
        field(page, "Full name").fill("Marie Curie")
        field(page, "E-mail address").fill(EMAIL)
        field(page, "Password (at least 12 characters)").fill(FIRST)
        page.get_by_role("button", name="Create my account").click()
        expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()
        expect(page.locator("#email-state")).to_contain_text("Not yet")
        shot(page, "account-unverified")

        page.get_by_role("button", name="Send the link again").click()
        expect(page.get_by_role("status")).to_contain_text(f"We sent a new link to {EMAIL}")

        # a wrong current password: said next to its field; nothing typed in a password field comes back
        field(page, "Current password").fill("not my password at all")
        field(page, "New password (at least 12 characters)").fill(SECOND)
        page.get_by_role("button", name="Change my password").click()
        current = field(page, "Current password")
        expect(current).to_have_attribute("aria-invalid", "true")
        expect(current).to_have_accessible_description(re.compile("This is not your current password"))
        expect(current).to_have_value("")
        shot(page, "password-wrong")
        field(page, "Current password").fill(FIRST)
        field(page, "New password (at least 12 characters)").fill(SECOND)
        page.get_by_role("button", name="Change my password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password is changed")
        expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()  # still logged in
        shot(page, "password-changed")

        # a new address: the password is asked; a wrong one is said next to its field, the address kept
        field(page, "New e-mail address").fill("marie@sorbonne.example")
        field(page, "Your password").fill("not my password at all")
        page.get_by_role("button", name="Change my e-mail address").click()
        expect(field(page, "Your password")).to_have_attribute("aria-invalid", "true")
        expect(field(page, "New e-mail address")).to_have_value("marie@sorbonne.example")
        shot(page, "email-wrong-password")

        page.get_by_role("button", name="Log out").click()
        page.goto(base + "/login")
        page.get_by_role("link", name="Forgot your password?").click()
        expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
        shot(page, "forgot")
        field(page, "E-mail address").fill(EMAIL)
        page.get_by_role("button", name="Send me a link").click()
        expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
        shot(page, "forgot-sent")

        reset = link_from_outbox(page, base, "Choose a new Booking password", "/reset-password")
        shot(page, "outbox-reset-mail", phone=False)
        page.goto(reset)
        expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        shot(page, "reset")
        field(page, "New password (at least 12 characters)").fill("password1234")
        page.get_by_role("button", name="Set my new password").click()
        expect(field(page, "New password (at least 12 characters)")).to_have_attribute("aria-invalid", "true")
        shot(page, "reset-weak")
        field(page, "New password (at least 12 characters)").fill(THIRD)
        page.get_by_role("button", name="Set my new password").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("Your password is changed")
        shot(page, "login-after-reset")

        # the password before the reset no longer opens the account; the new one does
        field(page, "E-mail address").fill(EMAIL)
        field(page, "Password").fill(SECOND)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("not right")
        field(page, "Password").fill(THIRD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="My account", exact=True)).to_be_visible()

        verify = link_from_outbox(page, base, "Confirm your e-mail address", "/verify-email")
        page.goto(verify)
        shot(page, "verify")
        page.get_by_role("button", name="Confirm my e-mail address").click()
        expect(page.get_by_role("status")).to_contain_text(f"Your e-mail address {EMAIL} is verified")
        expect(page.locator("#email-state")).to_have_text("Yes")
        expect(page.get_by_role("button", name="Send the link again")).to_have_count(0)
        shot(page, "account-verified")

        # the reset link was spent: it is refused, with no hint why, and offers a new one
        page.goto(reset)
        field(page, "New password (at least 12 characters)").fill("yet another password 1934")
        page.get_by_role("button", name="Set my new password").click()
        expect(page.get_by_role("alert")).to_contain_text("This link does not work any more")
        expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
        shot(page, "reset-spent")

        # a copy of her data: asked on the account page, announced by e-mail, downloaded as a ZIP
        page.goto(base + "/account")
        page.get_by_role("button", name="Prepare a copy of my data").click()
        expect(page.get_by_role("status")).to_contain_text("We are preparing a copy of your data")
        announced = mail_text(page, base, "Your Booking data is ready")
        export_link = re.search(rf"{re.escape(base)}/account/exports/[0-9a-f]{{32}}", announced).group(0)
        page.goto(base + "/account#data")
        download_link = page.locator("#data ~ .card").first.get_by_role("link", name="download")
        expect(download_link).to_have_attribute("href", export_link.removeprefix(base))
        shot(page, "data-ready")
        with page.expect_download() as download:
            download_link.click()
        archive = zipfile.ZipFile(download.value.path())
        assert "reservations.json" in archive.namelist() and EMAIL in archive.read("account.json").decode()

        # deleting the account: the password confirms it; a wrong one is said next to its field
        page.get_by_role("link", name="Delete my account…").click()
        expect(page.get_by_role("heading", name="Delete my account", exact=True)).to_be_visible()
        shot(page, "delete")
        field(page, "Your password").fill("not my password at all")
        page.get_by_role("button", name="Delete my account for good").click()
        expect(field(page, "Your password")).to_have_attribute("aria-invalid", "true")
        shot(page, "delete-wrong-password")
        field(page, "Your password").fill(THIRD)
        page.get_by_role("button", name="Delete my account for good").click()
        expect(page.get_by_role("heading", name="Your account is deleted")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_have_count(0)
        shot(page, "deleted")
        assert "Hello Marie Curie" in mail_text(page, base, "Your Booking account is deleted")
        page.goto(base + "/login")
        field(page, "E-mail address").fill(EMAIL)
        field(page, "Password").fill(THIRD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("not right")
        browser.close()


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    journey(sys.argv[1].rstrip("/"), folder)
    print("the account journey went as expected")
