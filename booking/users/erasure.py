"""Erasing an account: what users forgets of a person, in one transaction.

The row in `users` stays, as the anonymous reference that the bookings and payments
which the law makes Booking keep still carry (their `user_id`): it keeps its id,
when it was made and when it was deleted; its name, address and password go. The
e-mails sent keep only their kind and when they went (their `event`, which may hold
an address or a booking, is emptied); links, exports, request counts and the
account's events in the outbox are deleted. The other services forget their part on
`user_deleted` (docs/architecture.md, "Personal data").
"""
from sqlalchemy import delete, func, update

from booking.users import limits
from booking.users.models import AccountToken, DataExport, RequestCount, SentEmail

DELETED_NAME = "(deleted account)"


def anonymous_address(user_id):
    """Unique, as the column must be, and no one's: `.invalid` is never delivered (RFC 2606)."""
    return f"deleted-{user_id}@deleted.invalid"


def erase(session, user, now):
    """Forget the person behind `user`; returns (address, name) as they were, for the
    last e-mail, which is the only thing left to hold them until it is sent."""
    address, name = user.email, user.full_name
    session.execute(update(SentEmail).where(SentEmail.user_id == user.id)
                    .values(event={}, sent_at=func.coalesce(SentEmail.sent_at, now)))  # unsent: no one to send to
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    session.execute(delete(DataExport).where(DataExport.user_id == user.id))
    session.execute(delete(RequestCount).where(RequestCount.key == limits.key("reset-email", address)))
    user.email = anonymous_address(user.id)
    user.full_name = DELETED_NAME
    user.password_hash = ""  # no password matches it (booking/users/passwords.py)
    user.email_verified_at = None
    user.role = "guest"
    user.deleted_at = now
    return address, name
