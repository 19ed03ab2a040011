"""The booking pages of the web UI: choose rooms and plans, book, pay, see the
confirmation, change the dates, cancel (the whole booking or one room).

Forms work without JavaScript; every form carries the session's CSRF token, and
every form that books or pays an idempotency key made when the form was shown, so
a double submit books (or pays) once. What a cancellation or a change did is shown
after a redirect (post, redirect, get), carried there in the session's cookie."""
import math
import re
import uuid
from datetime import UTC, date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.utils import redirect

from booking.kit.errors import BookingError, ValidationFailed
from booking.kit.schemas import MAX_CHILD_AGE, MAX_ROOMS, included_vat, money, to_minor
from booking.payments.schemas import CardSchema
from entrypoints.gateway.http import form_fields, page, pdf_response
from entrypoints.gateway.routes.bookings import card_token
from entrypoints.gateway.routes.search import RESULTS_ARGS, STAY_ARGS, room_count
from entrypoints.gateway.wording import field_name, field_problems, in_words

CARD = tuple(CardSchema().fields)
SLOTS = range(1, MAX_ROOMS + 1)
# the form of several rooms: room_1 ("double:flexible"), adults_1, children_1 ("4, 9"), ... room_5
SLOT_FIELDS = tuple(f"{name}_{n}" for n in SLOTS for name in ("room", "adults", "children"))
# one room of room_type for `guests` adults (on `rate_plan`, else flexible), or the rooms of SLOT_FIELDS
HOLD_FIELDS = ("room_type", "rate_plan", "check_in", "check_out", "guests", "idempotency_key", *SLOT_FIELDS)
CARD_FIELDS = (*CARD, "idempotency_key")
CHANGE_FIELDS = ("check_in", "check_out", "confirm", "idempotency_key", *CARD)
# `review` is the value of the "Cancel…" button of My bookings: show what cancelling
# would refund first; a post without it cancels at once (as it always did)
CANCEL_FIELDS = ("room", "review")
TEST_CARDS = [("4242 4242 4242 4242", "succeeds"), ("4000 0000 0000 0002", "is declined"),
              ("4000 0000 0000 9995", "is declined: insufficient funds"),
              ("4000 0000 0000 0119", "makes the bank fail")]
MAX_ADULTS = 10
# why a booking has no confirmation PDF (NotConfirmed's details.status)
NO_CONFIRMATION = {
    "held": "This booking is not paid yet: its confirmation comes as soon as it is.",
    "cancelled": "This booking was cancelled, so it has no confirmation.",
    "expired": "This hold ended before it was paid, so there is no booking to confirm.",
}
# what a guest reads when a card is refused (PaymentDeclined's details.reason)
PAYMENT_REFUSALS = {
    "card_declined": "Your bank declined this card. Nothing was charged.",
    "insufficient_funds": "Your bank declined this card for insufficient funds. Nothing was charged.",
    "not_charged": "The bank could not take the payment just now. Nothing was charged: please try again, "
                   "with this card or another.",
}
# a card's fields that come back after a refusal (never its number or CVC)
KEPT_CARD_FIELDS = ("holder", "exp_month", "exp_year")
# NotChangeable's details.reason, for people
NOT_CHANGEABLE = {
    "not_confirmed": "Only a confirmed booking can be changed.",
    "stay_started": "The stay has started, so its dates can no longer be changed.",
    "nonrefundable": "A room is booked on a non-refundable rate, so the dates cannot be changed.",
    "free_cancellation_over": "Free cancellation is over, so the dates can no longer be changed "
                              "(or the new dates would not be free to cancel).",
}


def new_key():
    return uuid.uuid4().hex


def day_label(iso, year=True):
    """'Fri 12 Jun 2026' from '2026-06-12'."""
    day = date.fromisoformat(str(iso)[:10])
    return day.strftime("%a %d %b %Y" if year else "%a %d %b")


def children_ages(text):
    """[4, 9] from "4, 9" (commas, semicolons or spaces between); ValueError if an age
    is not a whole number from 0 to 17, or there are more than 10."""
    ages = [part for part in re.split(r"[,;\s]+", text or "") if part]
    if len(ages) > 10 or not all(age.isascii() and age.isdigit() and int(age) <= MAX_CHILD_AGE for age in ages):
        raise ValueError(text)
    return [int(age) for age in ages]


def requested_rooms(form):
    """The rooms the form of several rooms asks for, the slot number of each, and
    each field's problem in words."""
    rooms, slots, errors = [], [], {}
    for n in SLOTS:
        choice = form.get(f"room_{n}")
        if not choice:
            continue
        room_type, _, plan = choice.partition(":")
        adults = form.get(f"adults_{n}", "1")
        if not (adults.isascii() and adults.isdigit() and 1 <= int(adults) <= MAX_ADULTS):
            errors[f"adults_{n}"] = f"Choose from 1 to {MAX_ADULTS} adults."
            adults = "1"
        try:
            children = children_ages(form.get(f"children_{n}"))
        except ValueError:
            errors[f"children_{n}"] = f"Give each child's age (0 to {MAX_CHILD_AGE}), separated by commas: 4, 9."
            children = []
        rooms.append({"room_type": room_type, "rate_plan": plan or "flexible", "adults": int(adults),
                      "children": children})
        slots.append(n)
    return rooms, slots, errors


def field_of(key, slots):
    """The form field a service's error names: "rooms.1.adults" is adults_<slot of room 2>."""
    parts = str(key).split(".")
    if parts[0] == "rooms" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(slots):
        name = {"room_type": "room", "rate_plan": "room"}.get(parts[2], parts[2])
        return f"{name}_{slots[int(parts[1])]}"
    return parts[0]


def field_errors(refused, slots):
    """Each form field's problem in a refusal, in words: a stay that cannot be sold is
    said in the refusal's own sentence ("A Double Room sleeps at most 2 adults")."""
    return {field_of(key, slots): refused.message if refused.code == "NOT_SELLABLE" else in_words(problem)
            for key, problem in (refused.details or {}).items()}


def explained(refused, errors, shown):
    """The refusal in words, naming the fields the form does not show."""
    message = refused.message
    if refused.code == "VALIDATION_ERROR":  # rather than "Some arguments are not valid"
        message = "Please check what is marked below" if any(field in shown for field in errors) else \
            "Please check what you entered"
    more = " ".join(dict.fromkeys(f"{field_name(field)}: {problem}" for field, problem in errors.items()
                                  if field not in shown and problem not in message))
    return f"{message}. {more}" if more else message.rstrip(".") + "."


def minus(first, second):
    currency = first["currency"]
    return money(to_minor(first["amount"], currency) - to_minor(second["amount"], currency), currency)


def sign(amount):
    value = to_minor(amount["amount"], amount["currency"])
    return (value > 0) - (value < 0)


def absolute(amount):
    return money(abs(to_minor(amount["amount"], amount["currency"])), amount["currency"])


def people(adults, children):
    """'2 adults, 2 children (4, 9)'."""
    text = f"{adults} adult{'s' if adults != 1 else ''}"
    if children:
        text += f", {len(children)} child{'ren' if len(children) != 1 else ''} ({', '.join(map(str, children))})"
    return text


def still_free(policy, now):
    """Whether a room's policy still lets it be cancelled (and so changed) for free."""
    if not policy:
        return False
    if policy.get("penalty_kind") == "none":
        return True
    return bool(policy.get("deadline")) and datetime.fromisoformat(policy["deadline"]) > now


def hold_clock(reservation, now=None):
    """When a hold ends (or ended): in the hotel's time, in UTC, and the minutes left."""
    ends = datetime.fromisoformat(reservation["expires_at"])
    try:
        zone = ZoneInfo(reservation.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    left = (ends - (now or datetime.now(UTC))).total_seconds()
    return {"local": ends.astimezone(zone).strftime("%H:%M"), "utc": ends.astimezone(UTC).strftime("%H:%M"),
            "zone": str(zone), "place": str(zone).rsplit("/", 1)[-1].replace("_", " "),
            "minutes_left": max(0, math.ceil(left / 60))}


def book_again(reservation):
    """The hotel page for the same stay (an old date asks for new ones there)."""
    rooms = len([room for room in reservation.get("booked_rooms") or [] if room["status"] != "changed"])
    stay = {"check_in": reservation["check_in"], "check_out": reservation["check_out"],
            "guests": reservation["guests"], **({"rooms": rooms} if rooms > 1 else {})}
    return f"/hotels/{reservation['hotel_id']}?{urlencode(stay)}"


def ended_unpaid(reservation):
    """A hold that ended without being paid: an unfinished try, not a booking."""
    return reservation["status"] in ("expired", "cancelled") and not reservation.get("payment_id")


def dressed(reservation):
    """The reservation with what its pages show besides: its rooms booked now, the
    VAT included, dates in words, whether its dates may be changed."""
    rooms = reservation.get("booked_rooms") or []
    active = [room for room in rooms if room["status"] == "active"]
    # rooms are numbered for people 1, 2, ... (a change replaces lines 1 and 2 with 3 and 4)
    for number, room in enumerate(sorted((r for r in rooms if r["status"] != "changed"), key=lambda r: r["line"]), 1):
        room["number"] = number
    for room in rooms:
        room["people"] = people(room["adults"], room["children"])
        for night in room["nights"]:
            night["label"] = day_label(night["date"], year=False)
    currency = reservation["total"]["currency"]
    city_tax = reservation.get("city_tax") or money(0, currency)
    room_total = minus(reservation["total"], city_tax)
    basis_points = round(float(reservation.get("vat_rate") or 0) * 100)
    now = datetime.now(UTC)
    return {
        **reservation, "active_rooms": active, "cancelled_rooms": [r for r in rooms if r["status"] == "cancelled"],
        "room_total": room_total, "city_tax": city_tax,
        "vat": money(included_vat(to_minor(room_total["amount"], currency), basis_points), currency),
        "check_in_label": day_label(reservation["check_in"]), "check_out_label": day_label(reservation["check_out"]),
        "changeable": reservation["status"] == "confirmed" and date.fromisoformat(reservation["check_in"]) > now.date()
        and bool(active) and all(still_free(room.get("cancellation_policy"), now) for room in active),
    }


class BookingPages:
    def _login_first(self, request, back=None):
        """To the login page, and back here after: to this page, or for a form sent
        when the session had ended, to `back`, the page the form was on (never the
        form's own address, which takes no GET)."""
        target = request.full_path.rstrip("?") if request.method == "GET" else back
        return redirect(f"/login?{urlencode({'next': target})}", code=303)


    # -- the hotel: its rooms and plans, and booking them ---------------------------------------

    def _hotel_page(self, hotel_id, args, form=None, errors=None, error=None, status=200, per_room=None):
        """The hotel page: its room types, each with its rate plans and their prices for
        the stay; booking one room in one click, or several rooms (up to MAX_ROOMS)
        with adults and children each. `form`, `errors` and `error` bring back a
        refused booking's answers; `per_room`, the fewest adults it put in a room."""
        rooms = room_count(args.get("rooms"))
        stay = {key: args[key] for key in STAY_ARGS if args.get(key)}
        # the search these results came from, to go back to (and to come back here after logging in)
        search = {**stay, **({"rooms": rooms} if rooms > 1 else {}), **{key: args[key] for key in RESULTS_ARGS
                                                                         if args.get(key)}}
        wanted = dict(stay)
        guests = str(stay.get("guests", "1"))
        if per_room is not None:
            wanted["guests"] = str(per_room)
        elif rooms > 1 and guests.isdigit():  # each room sleeps its share of the guests
            wanted["guests"] = str(max(1, -(-int(guests) // rooms)))
        stay_errors = {}
        try:
            hotel = self._hotel(hotel_id, wanted)
        except ValidationFailed as invalid:  # the dates (or guests) asked for: said next to them
            if "hotel_id" in (invalid.details or {}):
                raise
            # an old or shared link (past or reversed dates) still shows the hotel, and asks for new dates
            stay_errors = invalid.details or {"check_in": [invalid.message]}
            hotel = self._hotel(hotel_id, {})
        dated = bool(stay.get("check_in")) and not stay_errors
        options = [
            {"value": f"{room['code']}:{plan['code']}", "room": room, "plan": plan,
             "label": f"{room['name']} · {plan['name']} · {plan['stay_price']['amount']} "
                      f"{plan['stay_price']['currency']}"}
            for room in hotel["room_types"] if dated and room.get("rooms_left")
            for plan in room.get("rate_plans") or [] if plan.get("stay_price")
        ]
        adults = int(guests) if guests.isdigit() else 1
        shares = [max(1, adults // rooms + (1 if n < adults % rooms else 0)) for n in range(rooms)]
        form = form or {}
        slots = [{
            "n": n, "room": form.get(f"room_{n}", options[0]["value"] if options else ""),
            "adults": str(form.get(f"adults_{n}", shares[n - 1])), "children": form.get(f"children_{n}", ""),
        } for n in range(1, rooms + 1)]
        most_adults = max([room.get("max_adults") or room.get("max_guests") or 1 for room in hotel["room_types"]]
                          + [int(slot["adults"]) for slot in slots if slot["adults"].isdigit()])
        return self.templates.render(
            "hotel.html", session=self.session, hotel=hotel, stay=stay, rooms=rooms, dated=dated,
            stay_errors=stay_errors, options=options, slots=slots, most_adults=min(most_adults, MAX_ADULTS),
            quick_guests=wanted.get("guests") or "1", errors=errors or {}, error=error, key=new_key(),
            max_rooms=MAX_ROOMS, status=status, error_in_form=any(form.get(f"room_{n}") for n in SLOTS),
            results_args={key: args[key] for key in RESULTS_ARGS if args.get(key)},
            here=f"/hotels/{hotel_id}?{urlencode(search)}", back=f"/?{urlencode({'city': hotel['city'], **search})}",
            check_in_label=day_label(stay["check_in"]) if dated else None,
            check_out_label=day_label(stay["check_out"]) if dated else None,
        )

    @page("POST", "/hotels/<int:hotel_id>/book")
    def book(self, request, hotel_id):
        if not self.session.logged_in:  # back to the hotel page once logged in
            stay = {key: request.form.get(key, "") for key in ("check_in", "check_out", "guests")}
            return redirect(f"/login?{urlencode({'next': f'/hotels/{hotel_id}?{urlencode(stay)}'})}", code=303)
        self.session.check_csrf(request.form)
        form = form_fields(request, HOLD_FIELDS)
        stay = {key: form[key] for key in ("check_in", "check_out") if key in form}
        if any(form.get(f"room_{n}") for n in SLOTS):
            rooms, slots, errors = requested_rooms(form)
            shown = {**stay, "rooms": str(max(slots)), "guests": str(sum(room["adults"] for room in rooms))}
            per_room = min(room["adults"] for room in rooms)  # the page lists every room type chosen
            if errors:
                return self._hotel_page(hotel_id, shown, form=form, errors=errors, status=400, per_room=per_room,
                                        error="Please check the rooms below.")
            request_rooms = {"rooms": rooms}
        elif form.get("rate_plan") and form.get("room_type"):  # one room on a plan, in one click
            slots, guests, per_room = [1], form.get("guests", "1"), None
            shown = {**stay, "guests": guests}
            request_rooms = {"rooms": [{"room_type": form["room_type"], "rate_plan": form["rate_plan"],
                                        "adults": int(guests) if guests.isdigit() else guests, "children": []}]}
        else:  # the form from before rate plans: one room of room_type, flexible, for `guests` adults
            slots, shown, per_room = [1], {**stay, "guests": form.get("guests", "1")}, None
            request_rooms = {"room_type": form.get("room_type"), "guests": form.get("guests")}
        try:
            reservation = self.reservations.hold(hotel_id=hotel_id, check_in=form.get("check_in"),
                                                 check_out=form.get("check_out"),
                                                 idempotency_key=form.get("idempotency_key"), **request_rooms)
        except BookingError as refused:
            # a refusal of what was asked is said next to the form; anything else is an error page
            if refused.http_status >= 500 or refused.code in ("HOTEL_NOT_FOUND", "UNAUTHORIZED", "INVALID_TOKEN",
                                                              "INSUFFICIENT_SCOPE", "CSRF_FAILED"):
                raise
            errors = field_errors(refused, slots)
            try:
                return self._hotel_page(hotel_id, shown, form=form, errors=errors,
                                        error=explained(refused, errors, SLOT_FIELDS if form.get("room_1") else ()),
                                        status=refused.http_status, per_room=per_room)
            except BookingError:  # not even the hotel page can be shown: the refusal alone
                return self.templates.render("message.html", session=self.session, status=refused.http_status,
                                             title="We could not hold that room", message=refused.message,
                                             back=f"/hotels/{hotel_id}")
        return redirect(f"/bookings/{reservation['id']}", code=303)

    # -- my bookings, a booking, paying ---------------------------------------------------------

    @page("GET", "/bookings")
    def my_bookings(self, request):
        if not self.session.logged_in:
            return self._login_first(request)
        everything = self.reservations.list_mine()
        reservations = [reservation for reservation in everything if not ended_unpaid(reservation)]
        for reservation in reservations:
            active = [room for room in reservation.get("booked_rooms") or [] if room["status"] == "active"]
            names = list(dict.fromkeys(room["room_name"] for room in active))
            if len(active) > 1:  # "3 rooms: Double Room ×2, Triple Room"
                reservation["rooms_label"] = f"{len(active)} rooms: " + ", ".join(
                    f"{name} ×{count}" if (count := sum(r["room_name"] == name for r in active)) > 1 else name
                    for name in names)
            else:
                reservation["rooms_label"] = active[0]["room_name"] if active else reservation["room_name"]
        return self.templates.render("bookings.html", session=self.session, reservations=reservations,
                                     unfinished=len(everything) - len(reservations))

    @page("GET", "/bookings/<string:reservation_id>")
    def booking(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        return self._booking_page(reservation_id, notice=self.session.told(reservation_id))

    def _booking_page(self, reservation_id, error=None, errors=None, card_form=None, status=200, notice=None):
        # both at once: the page waits for the slower, not for the sum
        pending = self.payments.for_reservation.call_async(reservation_id)
        reservation = dressed(self.reservations.get(reservation_id))
        paid = any(payment["status"] == "succeeded" for payment in pending.result())
        return self.templates.render(
            "booking.html", session=self.session, reservation=reservation, paid=paid, error=error,
            errors=errors or {}, card_form=card_form, notice=notice, status=status, key=new_key(),
            test_cards=self._test_cards(), hold=hold_clock(reservation),
            unpaid_end=ended_unpaid(reservation), book_again=book_again(reservation))

    def _test_cards(self):
        return TEST_CARDS if self.config.get("SHOW_TEST_CARDS") else []

    @page("POST", "/bookings/<string:reservation_id>/pay")
    def pay_page(self, request, reservation_id):
        """Pay a hold. A refused card leaves the hold as it was: the page says why and
        offers the form again, with the name and expiry kept for another try."""
        if not self.session.logged_in:
            return self._login_first(request, f"/bookings/{reservation_id}")
        self.session.check_csrf(request.form)
        form = form_fields(request, CARD_FIELDS)
        key = form.pop("idempotency_key", None) or new_key()
        try:
            self.payments.pay(reservation_id, card_token(self.bank, form), key)
        except BookingError as refused:
            details = refused.details or {}
            errors = field_problems({"card": details["card"]}) if "card" in details else {}
            if refused.code == "CARD_INVALID":
                errors = {"number": "The bank does not accept this card: check its number, or use another card."}
            message = PAYMENT_REFUSALS.get(details.get("reason"), refused.message) \
                if refused.code == "PAYMENT_DECLINED" else refused.message
            if errors:
                message = "Please check the card details marked below. Nothing was charged."
            return self._booking_page(reservation_id, error=message, errors=errors, status=refused.http_status,
                                      card_form={field: form.get(field) for field in KEPT_CARD_FIELDS})
        return redirect(f"/bookings/{reservation_id}", code=303)

    # -- cancelling -----------------------------------------------------------------------------

    @page("GET", "/bookings/<string:reservation_id>/cancel")
    def cancel_review(self, request, reservation_id):
        """What cancelling would refund and keep, before anything is cancelled: the
        whole booking, and each room apart when there are several."""
        if not self.session.logged_in:
            return self._login_first(request)
        return self._cancel_review(reservation_id)

    def _cancel_review(self, reservation_id, error=None, status=200):
        reservation = dressed(self.reservations.get(reservation_id))
        if reservation["status"] not in ("held", "confirmed"):
            return redirect(f"/bookings/{reservation_id}", code=303)
        rooms = reservation["active_rooms"]
        pending = {room["line"]: self.reservations.cancellation.call_async(reservation_id, room=room["line"])
                   for room in rooms} if len(rooms) > 1 else {}
        try:
            whole = self.reservations.cancellation(reservation_id)
        except BookingError as refused:
            if refused.code != "NOT_CANCELLABLE":
                raise
            return self.templates.render("message.html", session=self.session, status=refused.http_status,
                                         title="This booking can no longer be cancelled", message=refused.message,
                                         back=f"/bookings/{reservation_id}")
        each = {line: answer.result() for line, answer in pending.items()}
        return self.templates.render("cancel.html", session=self.session, reservation=reservation, whole=whole,
                                     each=each, error=error, status=status)

    @page("POST", "/bookings/<string:reservation_id>/cancel")
    def cancel_page(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request, f"/bookings/{reservation_id}/cancel")
        self.session.check_csrf(request.form)
        form = form_fields(request, CANCEL_FIELDS)
        if form.get("review"):
            return redirect(f"/bookings/{reservation_id}/cancel", code=303)
        try:
            answer = self.reservations.cancel(reservation_id, room=form.get("room"))
        except BookingError as refused:
            if refused.code not in ("NOT_CANCELLABLE", "VALIDATION_ERROR"):
                raise
            return self.templates.render("message.html", session=self.session, status=refused.http_status,
                                         title="We could not cancel that",
                                         message=explained(refused, field_errors(refused, []), ()),
                                         back=f"/bookings/{reservation_id}")
        figures = answer.get("cancellation") or {}
        numbers = {room["line"]: room["number"] for room in dressed(answer)["cancelled_rooms"]}
        self.session.tell(reservation_id, cancelled=[numbers.get(line, line) for line in figures.get("rooms") or []],
                   whole=not form.get("room"),
                   refund=figures.get("refund"), penalty=figures.get("penalty"))
        return redirect(f"/bookings/{reservation_id}/cancelled", code=303)

    @page("GET", "/bookings/<string:reservation_id>/cancelled")
    def cancelled_page(self, request, reservation_id):
        """What a cancellation did: the rooms it cancelled, what is refunded and kept."""
        if not self.session.logged_in:
            return self._login_first(request)
        reservation = dressed(self.reservations.get(reservation_id))
        notice = self.session.told(reservation_id)
        if notice is None and reservation["status"] != "cancelled" and not reservation["cancelled_rooms"]:
            return redirect(f"/bookings/{reservation_id}", code=303)
        return self.templates.render("cancelled.html", session=self.session, reservation=reservation,
                                     notice=notice or {})

    # -- changing the dates ---------------------------------------------------------------------

    @page("GET", "/bookings/<string:reservation_id>/change")
    def change_form(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        reservation = dressed(self.reservations.get(reservation_id))
        return self._change_page(reservation, {"check_in": reservation["check_in"],
                                               "check_out": reservation["check_out"]})

    def _change_page(self, reservation, form, quote=None, error=None, errors=None, status=200, card_form=None):
        difference = minus(quote["total"], reservation["total"]) if quote else None
        if quote:
            for room in quote["rooms"]:
                room["people"] = people(room["adults"], room["children"])
                for night in room["nights"]:
                    night["label"] = day_label(night["date"], year=False)
        if not reservation["changeable"] and error is None:
            error = NOT_CHANGEABLE.get("not_confirmed" if reservation["status"] != "confirmed"
                                       else "free_cancellation_over")
        return self.templates.render(
            "change.html", session=self.session, reservation=reservation, form=form, quote=quote,
            difference=difference, direction=sign(difference) if difference else 0,
            gap=absolute(difference) if difference else None, error=error, errors=errors or {}, key=new_key(),
            test_cards=self._test_cards(), status=status, card_form=card_form,
            new_labels=(day_label(quote["check_in"]), day_label(quote["check_out"])) if quote else None)

    @page("POST", "/bookings/<string:reservation_id>/change")
    def change_page(self, request, reservation_id):
        """Without `confirm`: the new stay's price and the difference (and a card
        form if it costs more). With `confirm`: the change itself."""
        if not self.session.logged_in:
            return self._login_first(request, f"/bookings/{reservation_id}/change")
        self.session.check_csrf(request.form)
        form = form_fields(request, CHANGE_FIELDS)
        reservation = dressed(self.reservations.get(reservation_id))
        dates = {"check_in": form.get("check_in"), "check_out": form.get("check_out")}
        if not all(dates.values()):
            missing = {key: "Choose a date." for key, value in dates.items() if not value}
            return self._change_page(reservation, dates, error="Choose both dates.", errors=missing, status=400)
        rooms = [{"room_type": room["room_type"], "rate_plan": room["rate_plan"], "adults": room["adults"],
                  "children": room["children"]} for room in reservation["active_rooms"]]
        try:
            quote = self.search.quote(reservation["hotel_id"], dates["check_in"], dates["check_out"], rooms)
        except BookingError as refused:
            if refused.http_status >= 500 or refused.code == "HOTEL_NOT_FOUND":
                raise
            errors = field_errors(refused, [])
            return self._change_page(reservation, dates, error=explained(refused, errors, STAY_ARGS), errors=errors,
                                     status=refused.http_status)
        if not form.get("confirm"):
            return self._change_page(reservation, dates, quote=quote)
        card = None
        try:
            if form.get("number"):
                card = card_token(self.bank, {key: form[key] for key in CARD if key in form})
            changed = self.reservations.change(reservation_id, check_in=dates["check_in"],
                                               check_out=dates["check_out"], card=card,
                                               idempotency_key=form.get("idempotency_key") or new_key())
        except BookingError as refused:
            if refused.http_status >= 500 and refused.code != "PAYMENT_PENDING":
                raise
            message = refused.message
            if refused.code == "NOT_CHANGEABLE":
                message = NOT_CHANGEABLE.get((refused.details or {}).get("reason"), refused.message)
            elif refused.code == "CARD_NEEDED":
                message = "The new stay costs more: pay the difference with a card below."
            elif refused.code == "PAYMENT_DECLINED":
                message = "The card was declined. Nothing was charged and your booking is unchanged; " \
                          "try another card."
            elif refused.code == "VALIDATION_ERROR" and "card" in (refused.details or {}):
                message = "Please check the card details marked below."
            errors = {field: problem for field, problem in field_errors(refused, []).items()
                      if field in ("check_in", "check_out")}
            if "card" in (refused.details or {}):
                errors.update(field_problems({"card": refused.details["card"]}))
            return self._change_page(reservation, dates, quote=quote, error=message, errors=errors,
                                     status=refused.http_status,
                                     card_form={field: form.get(field) for field in KEPT_CARD_FIELDS})
        difference = changed.get("change", {}).get("difference") or money(0, reservation["total"]["currency"])
        self.session.tell(reservation_id, changed=True, difference=difference, direction=sign(difference),
                   amount=absolute(difference), check_in=day_label(changed["check_in"]),
                   check_out=day_label(changed["check_out"]))
        return redirect(f"/bookings/{reservation_id}", code=303)

    @page("GET", "/bookings/<string:reservation_id>/confirmation.pdf")
    def confirmation_download(self, request, reservation_id):
        if not self.session.logged_in:
            return self._login_first(request)
        try:
            document = self.reservations.confirmation_pdf(reservation_id)
        except BookingError as refused:
            if refused.code != "NOT_CONFIRMED":
                raise
            status = (refused.details or {}).get("status")
            return self.templates.render(
                "message.html", session=self.session, status=refused.http_status, back=f"/bookings/{reservation_id}",
                title="There is no confirmation to download", message=NO_CONFIRMATION.get(status, refused.message))
        return pdf_response(document)

