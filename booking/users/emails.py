"""The e-mails users sends, as (subject, text, html)."""
from html import escape

from booking.kit.schemas import money


def welcome(full_name, public_url):
    subject = "Welcome to Booking"
    text = (
        f"Hello {full_name},\n\n"
        "Your Booking account is ready. Find a hotel in any of our cities, hold a room\n"
        "and pay when you are sure; your confirmation arrives by e-mail with its PDF.\n\n"
        f"Start here: {public_url}\n\n"
        "The Booking team\n"
    )
    html = (
        f"<p>Hello {escape(full_name)},</p>"
        "<p>Your Booking account is ready. Find a hotel in any of our cities, hold a room "
        "and pay when you are sure; your confirmation arrives by e-mail with its PDF.</p>"
        f'<p><a href="{escape(public_url)}">Start here</a></p>'
        "<p>The Booking team</p>"
    )
    return subject, text, html


def amount(minor, currency):
    shown = money(minor, currency)
    return f"{shown['amount']} {currency}"


def confirmation(full_name, reservation, public_url):
    stay = f"{reservation['check_in']} to {reservation['check_out']}"
    total = amount(reservation["total_minor"], reservation["currency"])
    subject = f"Booking confirmed: {reservation['hotel_name']}, {stay}"
    text = (
        f"Hello {full_name},\n\n"
        f"Your booking {reservation['reservation_id']} at {reservation['hotel_name']} is confirmed:\n"
        f"{stay}, total {total}.\n\n"
        f"Your bookings: {public_url}/bookings\n\n"
        "The Booking team\n"
    )
    html = (
        f"<p>Hello {escape(full_name)},</p>"
        f"<p>Your booking <strong>{escape(reservation['reservation_id'])}</strong> at "
        f"{escape(reservation['hotel_name'])} is confirmed: {escape(stay)}, total {escape(total)}.</p>"
        f'<p><a href="{escape(public_url)}/bookings">Your bookings</a></p>'
        "<p>The Booking team</p>"
    )
    return subject, text, html


def changed(full_name, reservation, public_url):
    """The booking changed (new dates, or a room cancelled): what it is now."""
    stay = f"{reservation['check_in']} to {reservation['check_out']}"
    total = amount(reservation["total_minor"], reservation["currency"])
    refund = amount(reservation.get("refund_minor", 0), reservation["currency"])
    subject = f"Booking changed: {reservation['hotel_name']}, {stay}"
    lines = [f"Your booking {reservation['reservation_id']} at {reservation['hotel_name']} has changed.",
             f"It is now {stay}, {reservation['rooms']} room(s), total {total}."]
    if reservation.get("refund_minor"):
        lines.append(f"Refunded to your card so far: {refund}.")
    if reservation["status"] == "confirmed":
        lines.append("The new confirmation is attached.")
    return (subject, *letter(full_name, lines, public_url))


def cancelled(full_name, reservation, public_url):
    """The guest cancelled: what is refunded and what the policy kept."""
    stay = f"{reservation['check_in']} to {reservation['check_out']}"
    refund = amount(reservation.get("refund_minor", 0), reservation["currency"])
    kept = amount(reservation.get("kept_minor", 0), reservation["currency"])
    subject = f"Booking cancelled: {reservation['hotel_name']}, {stay}"
    lines = [f"Your booking {reservation['reservation_id']} at {reservation['hotel_name']} ({stay}) is cancelled."]
    if reservation.get("payment_id"):
        lines.append(f"Refunded to your card: {refund}." + (
            f" Kept under the cancellation policy: {kept}." if reservation.get("kept_minor") else ""))
    else:
        lines.append("Nothing was charged.")
    return (subject, *letter(full_name, lines, public_url))


def letter(full_name, lines, public_url):
    """(text, html) of a short letter: a greeting, the lines, a link to the guest's bookings."""
    text = f"Hello {full_name},\n\n" + "\n".join(lines) + f"\n\nYour bookings: {public_url}/bookings\n\n"
    html = (f"<p>Hello {escape(full_name)},</p>" + "".join(f"<p>{escape(line)}</p>" for line in lines)
            + f'<p><a href="{escape(public_url)}/bookings">Your bookings</a></p>')
    return text + "The Booking team\n", html + "<p>The Booking team</p>"


def welcome_with_link(full_name, public_url, link):
    """The welcome, with the link that verifies the address (registration sends one e-mail)."""
    subject, text, html = welcome(full_name, public_url)
    text = text.replace("\nThe Booking team\n",
                        f"\nPlease confirm that this address is yours (the link works for 7 days):\n{link}\n\n"
                        "The Booking team\n")
    html = html.replace("<p>The Booking team</p>",
                        f'<p>Please <a href="{escape(link)}">confirm that this address is yours</a> '
                        "(the link works for 7 days).</p><p>The Booking team</p>")
    return subject, text, html


def password_reset(full_name, link):
    lines = ["Someone (we hope you) asked to choose a new password for your Booking account.",
             "Choose it here (the link works once, for 30 minutes):"]
    after = ["If you did not ask, do nothing: your password stays as it is."]
    return ("Choose a new Booking password", *link_letter(full_name, lines, link, "Choose a new password", after))


def verify_email(full_name, link):
    lines = ["Please confirm that this address is yours (the link works for 7 days):"]
    return ("Confirm your e-mail address", *link_letter(full_name, lines, link, "Confirm my address", []))


def change_email(full_name, link, new_email):
    lines = [f"You asked to use {new_email} for your Booking account.",
             "Confirm that this address is yours, and it replaces the old one (the link works for 7 days):"]
    after = ["If you did not ask, do nothing: the account keeps its address."]
    return ("Confirm your new e-mail address", *link_letter(full_name, lines, link, "Confirm my new address", after))


def email_changed(full_name, new_email, public_url):
    """To the old address, once the new one is verified and has replaced it."""
    lines = [f"The e-mail address of your Booking account is now {new_email}; this one is no longer used.",
             "If you did not change it, write to us at once: reply to this e-mail."]
    return ("Your Booking e-mail address has changed", *notice(full_name, lines))


def notice(full_name, lines):
    """(text, html) of a letter that only tells: no link."""
    text = f"Hello {full_name},\n\n" + "\n".join(lines) + "\n\nThe Booking team\n"
    html = (f"<p>Hello {escape(full_name)},</p>" + "".join(f"<p>{escape(line)}</p>" for line in lines)
            + "<p>The Booking team</p>")
    return text, html


def link_letter(full_name, lines, link, label, after):
    """(text, html) of a letter whose point is one link."""
    text = (f"Hello {full_name},\n\n" + "\n".join(lines) + f"\n\n{link}\n\n"
            + "".join(f"{line}\n" for line in after) + "\nThe Booking team\n")
    html = (f"<p>Hello {escape(full_name)},</p>" + "".join(f"<p>{escape(line)}</p>" for line in lines)
            + f'<p><a href="{escape(link)}">{escape(label)}</a></p>'
            + "".join(f"<p>{escape(line)}</p>" for line in after) + "<p>The Booking team</p>")
    return text, html


def export_ready(full_name, link):
    lines = ["The copy of your data that you asked for is ready: your account, your bookings with their "
             "confirmations, your payments and the e-mails we sent you, in one ZIP file.",
             "Download it here, logged in to your account (it is kept for 24 hours):"]
    after = ["If you did not ask for it, change your password: someone else may be using your account."]
    return ("Your Booking data is ready", *link_letter(full_name, lines, link, "Download my data", after))


def account_deleted(full_name):
    """The last e-mail to a deleted account's address, which is then forgotten too."""
    lines = ["Your Booking account is deleted, as you asked: it can no longer log in, and we have erased your "
             "name, your e-mail address and your password from every part of Booking.",
             "What the law makes us keep (the bookings' and payments' amounts and dates, for the accounts) is "
             "kept under an anonymous reference, with nothing that leads back to you.",
             "This is the last e-mail you get from us. Thank you for travelling with Booking."]
    return ("Your Booking account is deleted", *notice(full_name, lines))
