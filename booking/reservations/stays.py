"""A stay as its hotel runs it: the hotel's list of reservations, and the steps of a
stay the hotel records (check-in, check-out, no-show). Plain functions.

    confirmed -> checked_in -> checked_out
    confirmed -> no_show (its rooms go back on sale; the policy's penalty is kept)

A step is allowed from the day of arrival in the hotel's time zone; taking it again
changes nothing (the same answer)."""
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from booking.kit import policies
from booking.reservations import terms
from booking.reservations.exceptions import NotAllowedNow
from booking.reservations.models import Reservation

# step: (the state it needs, the state it leads to)
STEPS = {"check_in": ("confirmed", "checked_in"), "check_out": ("checked_in", "checked_out"),
         "no_show": ("confirmed", "no_show")}
STATUSES = ("held", "confirmed", "checked_in", "checked_out", "no_show", "cancelled", "expired")


def hotel_today(reservation, now):
    return policies.local_time(now, reservation.timezone or "UTC").date()


def check_step(reservation, step, now):
    """None if the hotel may take `step` now, "done" if it was taken already; else
    NotAllowedNow saying why."""
    needed, reached = STEPS[step]
    if reservation.status == reached:
        return "done"
    if reservation.status != needed:
        reason = {"confirmed": "not_confirmed", "checked_in": "not_checked_in"}[needed]
        raise NotAllowedNow(details={"reason": reason, "status": reservation.status})
    if step != "check_out" and hotel_today(reservation, now) < reservation.check_in:
        raise NotAllowedNow(details={"reason": "too_early", "check_in": reservation.check_in.isoformat()})
    return None


def no_show_figures(reservation):
    """What a no-show refunds and keeps: what cancelling after every deadline would
    (the policy's penalty kept, the rest of what was paid refunded)."""
    after_every_deadline = datetime.combine(reservation.check_out, time(23, 59), tzinfo=UTC) + timedelta(days=1)
    return terms.cancellation(reservation, after_every_deadline)


def hotel_reservations(session, hotel_id, arrival=None, departure=None, status=None):
    """The hotel's reservations, the latest arrival first, but for holds that ended
    unpaid (tries, not bookings)."""
    query = select(Reservation).where(Reservation.hotel_id == hotel_id)
    if arrival is not None:
        query = query.where(Reservation.check_in == arrival)
    if departure is not None:
        query = query.where(Reservation.check_out == departure)
    if status is not None:
        query = query.where(Reservation.status == status)
    else:
        query = query.where(~((Reservation.status.in_(("cancelled", "expired"))) & Reservation.payment_id.is_(None)))
    return list(session.scalars(query.order_by(Reservation.check_in.desc(), Reservation.created_at.desc())
                                .limit(1000)))


def matches(item, words):
    """Whether a listed reservation is the one sought: by reference, or by part of
    the guest's name or e-mail address, case ignored."""
    if not words:
        return True
    sought = words.strip().casefold()
    return sought in item["id"].casefold() or sought in (item.get("guest_name") or "").casefold() \
        or sought in (item.get("guest_email") or "").casefold()
