"""A reservation's states: where each may go, and which hold rooms. Without SQLAlchemy,
so that the schemas, which the gateway imports for its API document, leave it out
(the gateway has no database)."""
from collections import Counter

# which states a reservation may move to, and whether leaving gives its rooms back
TRANSITIONS = {
    "held": {"confirmed", "cancelled", "expired"},
    "confirmed": {"cancelled", "checked_in", "no_show"},
    "checked_in": {"checked_out"},
}
# a no-show gives its rooms back (the hotel may sell them again); a stay checked out
# keeps its nights, which are past
HOLDS_ROOMS = {"held", "confirmed", "checked_in", "checked_out"}


def holding(reservation):
    """What the reservation holds now, as its events tell search: [{room_type,
    check_in, check_out, count}] ([] once it holds nothing)."""
    if reservation.status not in HOLDS_ROOMS:
        return []
    counted = Counter((line.room_type, line.check_in, line.check_out) for line in reservation.active_lines)
    return [{"room_type": room_type, "check_in": check_in.isoformat(), "check_out": check_out.isoformat(),
             "count": count} for (room_type, check_in, check_out), count in sorted(counted.items())]
