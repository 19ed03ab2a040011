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
