"""Changing a booking's dates or rooms in steps that never leave it without rooms
and never over capacity: plain functions of a session, each inside one short
transaction.

1. `begin`: the nights the new stay needs beyond the old one are taken (all or
   none), and the change is recorded as pending.
2. The difference is paid (outside any transaction), if the new stay costs more.
3. `finish`: the old stay's nights the new one does not need go back, the rooms
   booked are replaced, and the version goes up; or `abandon`: the nights taken
   go back and the booking stays exactly as it was.
"""
import secrets
from collections import Counter
from datetime import date

from sqlalchemy import select, update

from booking.kit.errors import IdempotencyKeyReused
from booking.reservations import holds, terms
from booking.reservations.exceptions import ChangeInProgress
from booking.reservations.models import BookingChange, Reservation


def new_change_id():
    return "chg_" + secrets.token_urlsafe(12)


def find_by_key(session, reservation_id, idempotency_key, fingerprint):
    earlier = session.scalar(select(BookingChange).where(
        BookingChange.reservation_id == reservation_id, BookingChange.idempotency_key == idempotency_key))
    if earlier is not None and earlier.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    return earlier


def as_list(counted):
    return [{"room_type": room_type, "night": night.isoformat(), "count": count}
            for (room_type, night), count in sorted(counted.items()) if count > 0]


def as_counter(listed):
    return Counter({(item["room_type"], date.fromisoformat(item["night"])): item["count"] for item in listed})


def begin(session, reservation_id, version, idempotency_key, fingerprint, quote, difference, now):
    """Take the nights the quoted stay needs beyond the booking's (at `version`, as
    it was priced); record the change. Raises ChangeInProgress if another change is
    under way or the booking moved on meanwhile, NoRoomLeft (the caller's
    transaction then rolls back: nothing taken)."""
    change_id = new_change_id()
    locked = session.execute(
        update(Reservation).where(Reservation.id == reservation_id, Reservation.version == version,
                                  Reservation.changing.is_(None), Reservation.status == "confirmed")
        .values(changing=change_id).execution_options(synchronize_session=False)).rowcount
    if not locked:
        raise ChangeInProgress()
    reservation = session.get(Reservation, reservation_id)
    old_nights = holds.room_nights(reservation.active_lines)
    new_nights = holds.room_nights(terms.lines_from_quote(quote))
    taken, released = new_nights - old_nights, old_nights - new_nights
    holds.take_counts(session, reservation.hotel_id, taken, terms.capacities(quote))
    change = BookingChange(id=change_id, reservation_id=reservation_id, idempotency_key=idempotency_key,
                           request_hash=fingerprint, status="pending", taken=as_list(taken),
                           released=as_list(released), quote=quote, difference_minor=difference, created_at=now)
    session.add(change)
    session.flush()
    return change.id


def settle(session, change_id, to_status, failure=None):
    """Move a pending change to `to_status` once, and free its booking for the next:
    True if this call did."""
    settled = bool(session.execute(
        update(BookingChange).where(BookingChange.id == change_id, BookingChange.status == "pending")
        .values(status=to_status, failure=failure).execution_options(synchronize_session=False)).rowcount)
    if settled:
        session.execute(update(Reservation).where(Reservation.changing == change_id).values(changing=None)
                        .execution_options(synchronize_session=False))
    return settled


def abandon(session, change_id, failure):
    """The change failed: the nights it took go back. False if it had ended already."""
    change = session.get(BookingChange, change_id)
    if not settle(session, change_id, "failed", failure):
        return False
    reservation = session.get(Reservation, change.reservation_id)
    holds.give_counts(session, reservation.hotel_id, as_counter(change.taken))
    return True


def finish(session, change_id):
    """The change is paid for (or cost nothing more): the old nights it no longer
    needs go back, its rooms replace the old ones. Returns the reservation if this
    call finished it, None if it had ended already."""
    change = session.get(BookingChange, change_id)
    reservation = session.get(Reservation, change.reservation_id)
    if not settle(session, change_id, "done"):
        return None
    holds.give_counts(session, reservation.hotel_id, as_counter(change.released))
    next_line = max(line.line for line in reservation.lines) + 1
    for line in reservation.active_lines:
        line.status = "changed"
    new_lines = terms.lines_from_quote(change.quote, first_line=next_line)
    reservation.lines.extend(new_lines)
    session.flush()
    terms.summarise(reservation)
    reservation.quote = change.quote
    reservation.version += 1
    reservation.updated_at = holds.utcnow()
    if change.difference_minor < 0:
        reservation.refund_minor += -change.difference_minor
    reservation.confirmation_pdf = None
    session.flush()
    session.refresh(reservation)
    return reservation


def stale(session, older_than):
    """Pending changes whose worker may have died."""
    return list(session.scalars(select(BookingChange.id).where(
        BookingChange.status == "pending", BookingChange.created_at < older_than)))
