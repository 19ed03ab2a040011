"""The e-mails users sends, as (subject, text, html)."""
from html import escape


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


def confirmation(full_name, reservation, public_url):
    stay = f"{reservation['check_in']} to {reservation['check_out']}"
    total = f"{reservation['total_minor'] / 100:.2f} {reservation['currency']}"
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
