"""Cancellation policies: when cancelling stops being free, and what it then costs.

A policy is data, `{"free_until_hours": 48, "penalty": "first_night", "penalty_percent": None}`:
- `free_until_hours`: free until that many hours before check-in (the hotel's check-in
  time, in its time zone); None for a non-refundable rate (never free once paid);
- `penalty`, what is kept after that: "first_night", "percent" (`penalty_percent` of
  the room's price), "all", or "none" (always free: the bookings made before policies).

Search quotes a policy and reservations keeps it with the booking, so both read it
with these functions; the deadline is an instant (UTC), shown in the hotel's time.
"""
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.kit.schemas import money

PENALTIES = ("first_night", "percent", "all", "none")


def deadline(policy, check_in, check_in_time, timezone):
    """The last instant (UTC) at which cancelling is free, or None if it never is
    (non-refundable) or always is (penalty "none"). Hours are real hours: 48 hours
    before a check-in just after a daylight-saving change is 47 or 49 on the clock."""
    hours = policy.get("free_until_hours")
    if hours is None or policy["penalty"] == "none":
        return None
    arrival = datetime.combine(check_in, time.fromisoformat(check_in_time), ZoneInfo(timezone))
    return arrival.astimezone(UTC) - timedelta(hours=hours)


def penalty_after_deadline(policy, night_prices, room_total):
    """What cancelling a room costs once it is no longer free (minor units): its first
    night, a percentage of its price (rounded half up), all of it, or nothing."""
    kind = policy["penalty"]
    if kind == "first_night":
        return night_prices[0] if night_prices else 0
    if kind == "percent":
        return (sum(night_prices) * policy["penalty_percent"] + 50) // 100
    if kind == "all":
        return room_total
    return 0


def is_free(policy, deadline_utc, now):
    """Whether cancelling at `now` costs nothing."""
    if policy["penalty"] == "none":
        return True
    return deadline_utc is not None and now <= deadline_utc


def terms(policy, deadline_utc, now, paid, penalty):
    """(refund, kept) of cancelling at `now` a room for which `paid` was paid: all of
    it back while free, else the penalty kept (never more than was paid)."""
    kept = 0 if is_free(policy, deadline_utc, now) else min(penalty, paid)
    return paid - kept, kept


def local_time(instant, timezone):
    return instant.astimezone(ZoneInfo(timezone))


def describe(policy, deadline_utc, timezone, penalty, currency):
    """The policy in one sentence, its deadline in the hotel's time."""
    amount = money(penalty, currency)
    cost = f"{amount['amount']} {currency}"
    if policy["penalty"] == "none":
        return "Free cancellation until the stay ends."
    if deadline_utc is None:
        return f"Non-refundable: the whole price ({cost}) is charged, whenever you cancel."
    when = local_time(deadline_utc, timezone).strftime("%a %d %b %Y, %H:%M")
    after = {
        "first_night": f"the first night ({cost}) is charged",
        "percent": f"{policy.get('penalty_percent')}% of the price ({cost}) is charged",
        "all": f"the whole price ({cost}) is charged",
    }[policy["penalty"]]
    return f"Free cancellation until {when} ({timezone} time); after that {after}."
