"""A hotel's month in figures, from the reservations database: what the partner back
office shows a hotel manager (issue 19), the CSV it downloads and the data of the
`monthly_report` PDF. Plain functions of a session.

What counts, for hotel `hotel_id` and the nights of the month (its first day to its
last; a night is the date it starts):

- **Rooms available** of a room type on a night: the `capacity` of its `room_nights`
  row once there is one (the rooms it had when that night was first held,
  authoritative from then on), else `capacities[code]["rooms"]`.
- **Sold**: a room-night is sold when an `active` booked room of a reservation in
  `confirmed`, `checked_in` or `checked_out` has that night in its `nights`. A room
  the guest cancelled alone (`cancelled`) or a change replaced (`changed`) sells
  nothing, nor do held, expired, cancelled and no-show reservations.
- **Room revenue** (`revenue_minor`): each sold night's `price_minor` (the room's
  price that night, VAT included, city tax not), on its night; net of refunds
  already, since a refunded room is no longer sold and a cheaper change's refund is
  the difference between the old rooms and the new ones, which are what is sold.
  What a sold reservation was refunded beyond both (`refund_minor` less its booked
  rooms' `refund_minor` and its done changes' negative `difference_minor`: nothing
  grants that today, a goodwill refund would) is taken off its check-in night.

The events of a reservation count in the month of its check-in (`check_in`: its
first night as booked now, or when it ended), once, and only if it was paid
(`payment_id`); an unpaid hold that ended is no cancellation:

- **Cancellations**: booked rooms, not bookings (so that room types add up to the
  total): every room a guest cancelled alone (`booked_rooms.status` `cancelled`),
  and every room still `active` of a reservation `cancelled` whole.
- **No-shows**: the `active` booked rooms of a reservation in `no_show`.
- **Penalties kept** (`penalties_minor`): the reservation's `kept_minor`, what its
  cancellations kept (whole or room by room, the booking still sold or not) and a
  no-show's penalty.
- **Refunds** (`refunds_minor`): the reservation's `refund_minor`, every refund
  granted (cancellations, rooms cancelled alone, a change to a cheaper stay, what a
  no-show gets back), shown beside the revenue, not taken off it a second time.
  Refunds and penalties are as paid back and kept: a policy keeping the whole room
  keeps its city tax too.

A room type's share of these: each booked room's own `refund_minor` and
`kept_minor` where it has them, the rest to the reservation's first room type
(`Reservation.room_type`). The room types listed are those of `capacities`, in its
order, then any other with a sale or an event in the month (its name as booked, 0
rooms available but for its `room_nights` rows).

Money is in minor units of `currency`; occupancy is sold / available (4 decimals),
ADR revenue / rooms sold and RevPAR revenue / rooms available, rounded half up to a
minor unit; each 0 when its divisor is 0.
"""
import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from booking.kit.schemas import money
from booking.reservations.models import BookedRoom, BookingChange, Reservation, RoomNight

SOLD = ("confirmed", "checked_in", "checked_out")
NO_SHOW = "no_show"
CANCELLED = "cancelled"
DEFAULT_CURRENCY = "EUR"

CSV_COLUMNS = ["period", "room_type", "room_type_name", "rooms_available", "rooms_sold", "occupancy", "adr",
               "revpar", "revenue", "refunds", "penalties", "cancellations", "no_shows", "currency"]
ALL_ROOM_TYPES = "All room types"


def month_figures(session, hotel_id, month, capacities, today=None, currency=None):
    """The month of `month` (a date, normally its first day) of hotel `hotel_id`, as
    the module says: {hotel_id, month: "2027-01", currency, totals, room_types: [{code,
    name, ...totals' keys, days}], days: [{date, rooms_available, rooms_sold,
    occupancy, revenue_minor}]}. `capacities` is {room type code: {name, rooms}} (from
    search). `currency` is the hotel's; without it, that of its reservations (EUR
    when there are none). `today` changes nothing: nights to come count as sold once
    booked, so a month under way shows what is on the books.
    Raises ValueError if the month's reservations are in several currencies."""
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    nights = [start + timedelta(days=n) for n in range((end - start).days)]
    overlapping = (Reservation.hotel_id == hotel_id, Reservation.check_in < end, Reservation.check_out > start,
                   Reservation.status.in_((*SOLD, NO_SHOW, CANCELLED)))

    bookings = {row.id: row for row in session.execute(select(
        Reservation.id, Reservation.status, Reservation.payment_id, Reservation.check_in, Reservation.room_type,
        Reservation.currency, Reservation.refund_minor, Reservation.kept_minor).where(*overlapping))}
    rooms = session.execute(select(
        BookedRoom.reservation_id, BookedRoom.room_type, BookedRoom.room_name, BookedRoom.status, BookedRoom.nights,
        BookedRoom.refund_minor, BookedRoom.kept_minor).join(Reservation).where(*overlapping)).all()
    cheaper_changes = dict(session.execute(
        select(BookingChange.reservation_id, -func.sum(BookingChange.difference_minor))
        .join(Reservation).where(*overlapping, Reservation.status.in_(SOLD), BookingChange.status == "done",
                                 BookingChange.difference_minor < 0)
        .group_by(BookingChange.reservation_id)).all())
    recorded_capacity = {(row.room_type, row.night): row.capacity for row in session.execute(
        select(RoomNight.room_type, RoomNight.night, RoomNight.capacity)
        .where(RoomNight.hotel_id == hotel_id, RoomNight.night >= start, RoomNight.night < end))}

    sold = defaultdict(lambda: defaultdict(int))      # room type -> night -> rooms sold
    revenue = defaultdict(lambda: defaultdict(int))   # room type -> night -> minor units
    events = defaultdict(lambda: defaultdict(int))    # room type -> refunds_minor, penalties_minor, ...
    names = {}
    rooms_of = defaultdict(list)
    for room in rooms:
        rooms_of[room.reservation_id].append(room)
        names.setdefault(room.room_type, room.room_name)
        if room.status == "active" and bookings[room.reservation_id].status in SOLD:
            for night in room.nights:
                day = date.fromisoformat(night["date"])
                if start <= day < end:
                    sold[room.room_type][day] += 1
                    revenue[room.room_type][day] += night["price_minor"]

    counted = [booking for booking in bookings.values()
               if booking.payment_id is not None and start <= booking.check_in < end]
    counted_ids = {booking.id for booking in counted}
    for booking in counted:
        lines = rooms_of[booking.id]
        share(events, "refunds_minor", booking.refund_minor, booking.room_type,
              [(line.room_type, line.refund_minor) for line in lines])
        share(events, "penalties_minor", booking.kept_minor, booking.room_type,
              [(line.room_type, line.kept_minor) for line in lines])
        for line in lines:
            if line.status == "cancelled" or (line.status == "active" and booking.status == CANCELLED):
                events[line.room_type]["cancellations"] += 1
            elif line.status == "active" and booking.status == NO_SHOW:
                events[line.room_type]["no_shows"] += 1
        if booking.status in SOLD:
            explained = sum(line.refund_minor or 0 for line in lines) + cheaper_changes.get(booking.id, 0)
            beyond = (booking.refund_minor or 0) - explained
            if beyond > 0:
                revenue[booking.room_type][booking.check_in] -= beyond

    codes = list(capacities) + sorted((set(sold) | set(revenue) | set(events)) - set(capacities))
    room_types = []
    for code in codes:
        rooms_by_default = capacities.get(code, {}).get("rooms", 0)
        days = [day_figures(night, recorded_capacity.get((code, night), rooms_by_default), sold[code][night],
                            revenue[code][night]) for night in nights]
        room_types.append({"code": code, "name": capacities.get(code, {}).get("name") or names.get(code, code),
                           **period_figures(days, events[code]), "days": days})
    days = [day_figures(night, *(sum(kind["days"][n][key] for kind in room_types)
                                 for key in ("rooms_available", "rooms_sold", "revenue_minor")))
            for n, night in enumerate(nights)]
    everything = defaultdict(int)
    for code in codes:
        for key, value in events[code].items():
            everything[key] += value
    return {
        "hotel_id": hotel_id,
        "month": start.strftime("%Y-%m"),
        "currency": currency_of(currency, [booking.currency for booking in bookings.values()
                                           if booking.status in SOLD or booking.id in counted_ids]),
        "totals": period_figures(days, everything),
        "room_types": room_types,
        "days": days,
    }


def share(events, key, total, main_room_type, lines):
    """Add `total` to `key`: each booked room's own part to its room type, the rest to
    the reservation's first room type."""
    own = [(room_type, amount) for room_type, amount in lines if amount]
    for room_type, amount in own:
        events[room_type][key] += amount
    rest = (total or 0) - sum(amount for _, amount in own)
    if rest:
        events[main_room_type][key] += rest


def currency_of(given, found):
    currencies = set(found) | ({given} if given else set())
    if len(currencies) > 1:
        raise ValueError(f"The month's reservations are in several currencies: {', '.join(sorted(currencies))}")
    return currencies.pop() if currencies else DEFAULT_CURRENCY


def day_figures(night, available, rooms_sold, revenue_minor):
    return {"date": night.isoformat(), "rooms_available": available, "rooms_sold": rooms_sold,
            "occupancy": occupancy(rooms_sold, available), "revenue_minor": revenue_minor}


def period_figures(days, events):
    available = sum(day["rooms_available"] for day in days)
    rooms_sold = sum(day["rooms_sold"] for day in days)
    revenue_minor = sum(day["revenue_minor"] for day in days)
    return {
        "rooms_available": available,
        "rooms_sold": rooms_sold,
        "occupancy": occupancy(rooms_sold, available),
        "adr_minor": divided(revenue_minor, rooms_sold),
        "revpar_minor": divided(revenue_minor, available),
        "revenue_minor": revenue_minor,
        "refunds_minor": events.get("refunds_minor", 0),
        "penalties_minor": events.get("penalties_minor", 0),
        "cancellations": events.get("cancellations", 0),
        "no_shows": events.get("no_shows", 0),
    }


def occupancy(rooms_sold, available):
    """sold / available as a float with 4 decimals (rounded half up); 0.0 with nothing available."""
    if not available:
        return 0.0
    return float((Decimal(rooms_sold) / Decimal(available)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def divided(amount_minor, count):
    """`amount_minor` / `count` rounded half up to a minor unit; 0 when `count` is 0."""
    if not count:
        return 0
    return int((Decimal(amount_minor) / Decimal(count)).to_integral_value(ROUND_HALF_UP))


def figures_csv(figures):
    """The figures of `month_figures` as CSV text (RFC 4180, CRLF line ends), a header
    row first, then for each day one row per room type and a row of all room types,
    then the month: one row per room type and a row of all room types. Columns:

    - `period`: the day (`2027-01-05`) or the month (`2027-01`);
    - `room_type` and `room_type_name`: its code and name; empty and "All room types"
      on the rows of all room types;
    - `rooms_available`, `rooms_sold` (room-nights) and `occupancy` (sold / available,
      `0.7500`);
    - `adr`, `revpar` and `revenue` (room revenue net of refunds): amounts with the
      currency's decimals (`123.40`);
    - `refunds`, `penalties`, `cancellations` and `no_shows`: on the month's rows only
      (they belong to a booking's check-in, not to each night), empty on a day's;
    - `currency`."""
    currency = figures["currency"]
    amount = lambda minor: money(minor, currency)["amount"]  # noqa: E731
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def row(period, code, name, values, whole_period):
        rooms_sold, available, revenue_minor = values["rooms_sold"], values["rooms_available"], values["revenue_minor"]
        events = ([amount(values["refunds_minor"]), amount(values["penalties_minor"]), values["cancellations"],
                   values["no_shows"]] if whole_period else ["", "", "", ""])
        writer.writerow([period, code, name, available, rooms_sold, f"{values['occupancy']:.4f}",
                         amount(divided(revenue_minor, rooms_sold)), amount(divided(revenue_minor, available)),
                         amount(revenue_minor), *events, currency])

    for n, day in enumerate(figures["days"]):
        for kind in figures["room_types"]:
            row(day["date"], kind["code"], kind["name"], kind["days"][n], False)
        row(day["date"], "", ALL_ROOM_TYPES, day, False)
    for kind in figures["room_types"]:
        row(figures["month"], kind["code"], kind["name"], kind, True)
    row(figures["month"], "", ALL_ROOM_TYPES, figures["totals"], True)
    return out.getvalue()
