"""What a booking is, from its quote, and what cancelling or changing it costs:
plain functions of a reservation, no session."""
from datetime import datetime

from booking.kit import policies
from booking.kit.schemas import to_minor
from booking.kit.times import as_utc
from booking.reservations.models import BookedRoom


def lines_from_quote(quote, first_line=1):
    """The booked rooms of a quote (search's `quote`, as it answered), numbered
    from `first_line`: each night's price and the policy locked as quoted."""
    currency = quote["currency"]

    def minor(amount):
        return to_minor(amount["amount"], currency)

    lines = []
    for number, room in enumerate(quote["rooms"], start=first_line):
        policy = room["cancellation_policy"]
        lines.append(BookedRoom(
            line=number, room_type=room["room_type"], room_name=room["room_name"], rate_plan=room["rate_plan"],
            rate_plan_name=room["rate_plan_name"], adults=room["adults"], children=room["children"],
            check_in=as_date(quote["check_in"]), check_out=as_date(quote["check_out"]),
            nights=[{"date": night["date"], "price_minor": minor(night["price"])} for night in room["nights"]],
            price_minor=minor(room["price"]), city_tax_minor=minor(room["city_tax"]),
            total_minor=minor(room["total"]),
            policy={"free_until_hours": policy["free_until_hours"], "penalty": policy["penalty_kind"],
                    "penalty_percent": policy["penalty_percent"]},
            deadline=datetime.fromisoformat(policy["deadline"]) if policy["deadline"] else None,
            penalty_minor=minor(policy["penalty"]), status="active"))
    return lines


def capacities(quote):
    """{room type: rooms the hotel has}, as quoted."""
    return {room["room_type"]: room["capacity"] for room in quote["rooms"]}


def summarise(reservation):
    """The reservation's own figures from its rooms booked now."""
    lines = reservation.active_lines
    first = lines[0]
    names = list(dict.fromkeys(line.room_name for line in lines))
    reservation.room_type, reservation.room_name = first.room_type, " + ".join(names)[:100]
    reservation.check_in, reservation.check_out = first.check_in, first.check_out
    reservation.guests = sum(line.adults + len(line.children) for line in lines)
    reservation.rooms = len(lines)
    reservation.nightly_price_minor = first.price_minor // max(len(first.nights), 1)
    reservation.total_minor = sum(line.total_minor for line in lines)
    reservation.city_tax_minor = sum(line.city_tax_minor for line in lines)


def is_paid(reservation):
    return reservation.status == "confirmed" and reservation.payment_id is not None


def line_terms(reservation, line, now):
    """(refund, kept) of cancelling one room now: nothing either way before it is paid."""
    if not is_paid(reservation):
        return 0, 0
    deadline = as_utc(line.deadline) if line.deadline is not None else None
    return policies.terms(line.policy, deadline, now, line.total_minor, line.penalty_minor)


def cancellation(reservation, now, room=None):
    """What cancelling now would refund and keep: the whole booking, or the room
    whose line is `room`. {refund_minor, kept_minor, free, lines: [numbers]}."""
    lines = [line for line in reservation.active_lines if room is None or line.line == room]
    each = {line.line: line_terms(reservation, line, now) for line in lines}
    refund, kept = sum(r for r, _ in each.values()), sum(k for _, k in each.values())
    return {"refund_minor": refund, "kept_minor": kept, "free": kept == 0, "lines": list(each), "each": each}


def cancelled_figures(reservation, room=None):
    """What the cancellation of the booking (or of the room whose line is `room`) did
    refund and keep, as `cancellation` said at the time."""
    lines = [line for line in reservation.lines
             if line.refund_minor is not None and (room is None or line.line == room)]
    refund, kept = sum(line.refund_minor for line in lines), sum(line.kept_minor for line in lines)
    return {"refund_minor": refund, "kept_minor": kept, "free": kept == 0, "lines": [line.line for line in lines]}


def why_not_changeable(reservation, today, now):
    """Why the booking cannot be changed now (a reason code), or None: only a
    confirmed stay still to come, every room on a plan still free to cancel."""
    if reservation.status != "confirmed":
        return "not_confirmed"
    if reservation.check_in <= today:
        return "stay_started"
    for line in reservation.active_lines:
        deadline = as_utc(line.deadline) if line.deadline is not None else None
        if line.policy["penalty"] != "none" and deadline is None:
            return "nonrefundable"
        if not policies.is_free(line.policy, deadline, now):
            return "free_cancellation_over"
    return None


def why_quote_not_changeable(quote, now):
    """A change must keep the stay free to cancel: the reason it would not, or None."""
    for room in quote["rooms"]:
        policy = room["cancellation_policy"]
        if policy["penalty_kind"] == "none":
            continue
        if policy["deadline"] is None:
            return "nonrefundable"
        if now > datetime.fromisoformat(policy["deadline"]):
            return "free_cancellation_over"
    return None


def as_date(value):
    return value if not isinstance(value, str) else datetime.fromisoformat(value).date()
