"""The partner pages of the web UI, under /partner: a manager's hotels, a hotel's
profile and room types, its rate calendar (the month grid a manager lives in, and
its bulk edit), its reservations (checking guests in and out) and its monthly
report, with the report's CSV and PDF.

As every page: no JavaScript, the CSRF token on every form, post-redirect-get with
a word of what was done (the session's notice), a refusal next to its field, in
words. A visitor is sent to log in; someone logged in without the scope `partner`
gets a 403 page that says what this part of the site is for. Which hotels a
manager may see is search's to say: any other is a 404, as the API's."""
import functools
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from werkzeug.utils import redirect

from booking.kit.errors import BookingError, Forbidden, ValidationFailed
from booking.kit.schemas import money
from entrypoints.gateway.http import form_fields, page, page_args, pdf_response
from entrypoints.gateway.routes.pages import day_label
from entrypoints.gateway.routes.partner import csv_response
from entrypoints.gateway.wording import field_name, field_problems

PROFILE_FIELDS = ("name", "description", "address", "amenities", "check_in_time", "check_out_time",
                  "policies_text")
ROOM_TYPE_FIELDS = ("name", "max_adults", "max_occupancy", "rooms", "price")
NEW_ROOM_TYPE_FIELDS = ("code", *ROOM_TYPE_FIELDS)
WHOLE_NUMBERS = ("max_adults", "max_occupancy", "rooms", "min_stay")
CALENDAR_FORM = ("room_type", "rate_plan", "start", "end", "price", "closed", "min_stay", "closed_to_arrival",
                 "month")
# the API's names of a range, as the form names them
CALENDAR_ALIASES = {"from": "start", "to": "end", "start_date": "start", "end_date": "end"}
FILTERS = ("arrival", "departure", "status", "q")
STATUSES = {"held": "Held, not paid", "confirmed": "Confirmed", "checked_in": "Checked in",
            "checked_out": "Checked out", "no_show": "No-show", "cancelled": "Cancelled", "expired": "Expired"}
ACTIONS = {"check-in": ("check_in", "Checked in"), "check-out": ("check_out", "Checked out"),
           "no-show": ("no_show", "Marked as a no-show")}
# NotAllowedNow's details.reason, for a manager
NOT_ALLOWED_NOW = {
    "too_early": "It is too early: a guest can be checked in, or marked as a no-show, from the day of arrival "
                 "(the hotel's time).",
    "not_confirmed": "Only a confirmed booking can be checked in or marked as a no-show.",
    "not_checked_in": "Only a guest who has checked in can check out.",
}
# the notice of the partner pages, kept in the session for the page after a redirect
NOTICE = "partner"
# a card of My hotels counts today's arrivals and departures when there are no more hotels than this
COUNTED_HOTELS = 12
MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")


def hotel_today(timezone):
    """Today in the hotel's time zone."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(UTC).astimezone(zone).date()


def first_of_month(text, today):
    """The first day of the month "2027-01" (this month if none); ValidationFailed
    naming `month` if it is not one."""
    if not text:
        return today.replace(day=1)
    found = MONTH.match(str(text))
    if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise ValidationFailed("Choose a month", details={"month": ["Enter a month as year and month: 2027-01."]})
    return date(int(found.group(1)), int(found.group(2)), 1)


def next_month(first):
    return (first + timedelta(days=32)).replace(day=1)


def previous_month(first):
    return (first - timedelta(days=1)).replace(day=1)


def last_of_month(first):
    return next_month(first) - timedelta(days=1)


def short_price(amount):
    """'120' for 120.00, '120.50' otherwise: a grid's cell, whose currency its caption says."""
    text = str(amount["amount"])
    return text[:-3] if text.endswith(".00") else text


def minor(value, currency):
    return money(int(value or 0), currency)


def whole_numbers(fields):
    """The form's counts as numbers (what is not one goes as typed: the service says what is wrong)."""
    return {name: int(value) if name in WHOLE_NUMBERS and str(value).isascii() and str(value).isdigit() else value
            for name, value in fields.items()}


def partner_scope(session):
    return "partner" in (getattr(session, "scopes", None) or set())


def partner_only(back=None):
    """A partner page: a visitor logs in first (and comes back here, or for a form, to
    `back`, formatted with the route's values); someone without the scope `partner`
    gets the 403 page; a form's CSRF token is checked."""
    def decorate(handler):
        @functools.wraps(handler)
        def gated(self, request, **values):
            if not self.session.logged_in:
                return self._login_first(request, back.format(**values) if back else "/partner")
            if not partner_scope(self.session):
                return self._not_a_partner()
            if request.method == "POST":
                self.session.check_csrf(request.form)
            try:
                return handler(self, request, **values)
            except Forbidden as refused:  # the token's scopes, as auth sees them now
                if refused.code != "INSUFFICIENT_SCOPE":
                    raise
                return self._not_a_partner()
        return gated
    return decorate


def dressed_reservation(item, today):
    """A reservation of the list with its dates and status in words, and what may be done now."""
    arrived = date.fromisoformat(item["check_in"]) <= today
    actions = []
    if item["status"] == "confirmed" and arrived:
        actions = ["check-in", "no-show"]
    elif item["status"] == "checked_in":
        actions = ["check-out"]
    return {**item, "status_label": STATUSES.get(item["status"], item["status"]),
            "check_in_label": day_label(item["check_in"], year=False),
            "check_out_label": day_label(item["check_out"], year=False), "actions": actions}


def calendar_grid(calendar, today):
    """The month grid: a column per day, and per room type a row of rooms sold and left
    and a row per plan of each night's price and terms."""
    days = []
    for iso in calendar["dates"]:
        day = date.fromisoformat(iso)
        days.append({"iso": iso, "weekday": day.strftime("%a"), "day": day.day, "weekend": day.weekday() >= 5,
                     "today": day == today, "past": day < today, "label": day.strftime("%A %d %B %Y")})
    rows = []
    for room in calendar["room_types"]:
        plans = [{**plan, "nights": [{**night, "price_text": short_price(night["price"])}
                                     for night in plan["nights"]]} for plan in room["plans"]]
        rows.append({**room, "plans": plans})
    return days, rows


def rooms_sold_problem(refused):
    """ROOMS_SOLD in words: the nights where more are sold than the new count."""
    nights = (refused.details or {}).get("nights") or []
    listed = ", ".join(f"{day_label(night['date'])} ({night['sold']} sold)" for night in nights[:10])
    more = f", and {len(nights) - 10} more nights" if len(nights) > 10 else ""
    return f"More rooms are sold than that on some nights: {listed}{more}. Choose at least as many rooms " \
           "as are sold on each night."


def report_dressed(report):
    """The report's minor units as money, its occupancy as a percentage."""
    currency = report["currency"]

    def figures(row):
        out = dict(row)
        for key in ("adr_minor", "revpar_minor", "revenue_minor", "refunds_minor", "penalties_minor"):
            if key in row:
                out[key[:-len("_minor")]] = minor(row[key], currency)
        out["percent"] = round(float(row.get("occupancy") or 0) * 100, 1)
        return out

    return {**report, "totals": figures(report["totals"]), "room_types": [figures(r) for r in report["room_types"]],
            "days": [{**figures(day), "label": day_label(day["date"], year=False)} for day in report["days"]]}


def calendar_change(form):
    """set_calendar's values from the bulk form: only what the manager chose to change."""
    values = {}
    if form.get("price"):
        values["price"] = form["price"].strip()
    if form.get("closed") in ("close", "open"):
        values["closed"] = form["closed"] == "close"
    if form.get("min_stay"):
        values["min_stay"] = whole_numbers({"min_stay": form["min_stay"]})["min_stay"]
    if form.get("closed_to_arrival") in ("yes", "no"):
        values["closed_to_arrival"] = form["closed_to_arrival"] == "yes"
    return values


def change_in_words(values, currency):
    said = []
    if "price" in values:
        said.append(f"price {values['price']} {currency}")
    if "closed" in values:
        said.append("closed" if values["closed"] else "open")
    if "min_stay" in values:
        said.append(f"minimum stay {values['min_stay']} night{'s' if values['min_stay'] != 1 else ''}")
    if "closed_to_arrival" in values:
        said.append("closed to arrival" if values["closed_to_arrival"] else "open to arrival")
    return ", ".join(said)


class PartnerPages:
    def _not_a_partner(self):
        return self.templates.render("partner/denied.html", session=self.session, status=403)

    def _told(self):
        return self.session.told(NOTICE)

    # -- my hotels --------------------------------------------------------------------------------

    @page("GET", "/partner")
    @partner_only()
    def partner_home(self, request):
        hotels = self.search.partner_hotels()["items"]
        if len(hotels) <= COUNTED_HOTELS:
            # both lists of every hotel at once: the page waits for the slowest, not the sum
            pending = {}
            for hotel in hotels:
                today = hotel["today"] = hotel_today(hotel.get("timezone")).isoformat()
                pending[hotel["id"]] = (self.reservations.hotel_reservations.call_async(hotel["id"], arrival=today),
                                        self.reservations.hotel_reservations.call_async(hotel["id"], departure=today))
            for hotel in hotels:
                arriving, leaving = (answer.result()["items"] for answer in pending[hotel["id"]])
                hotel["arrivals"] = sum(item["status"] in ("confirmed", "checked_in") for item in arriving)
                hotel["departures"] = sum(item["status"] in ("checked_in", "checked_out") for item in leaving)
        return self.templates.render("partner/hotels.html", session=self.session, hotels=hotels,
                                     notice=self._told())

    # -- the profile and room types ---------------------------------------------------------------

    @page("GET", "/partner/hotels/<int:hotel_id>")
    @partner_only()
    def partner_hotel_page(self, request, hotel_id):
        return self._profile_page(hotel_id)

    def _profile_page(self, hotel_id, failed=None, status=200):
        """The profile form and the room types; `failed` brings a refused form back:
        {"form": which ("profile", "new" or a room type's code), "values", "errors", "message"}."""
        hotel = self.search.partner_hotel(hotel_id)
        return self.templates.render("partner/hotel.html", session=self.session, hotel=hotel, here="profile",
                                     failed=failed or {}, notice=self._told(), status=status)

    def _refused_form(self, hotel_id, which, values, refused, order):
        if refused.http_status >= 500 or refused.code in ("HOTEL_NOT_FOUND", "CSRF_FAILED"):
            raise refused
        errors = field_problems(refused.details if refused.code == "VALIDATION_ERROR" else {}, order)
        message = refused.message
        if refused.code == "ROOMS_SOLD":
            errors = {"rooms": rooms_sold_problem(refused)}
            message = "The number of rooms was not changed: more are sold on some nights."
        elif refused.code == "ROOM_TYPE_EXISTS":
            errors = {"code": "A room type of this hotel has this code already: choose another."}
            message = "Please check the field marked below."
        elif errors:
            message = None  # the summary names the fields
        return self._profile_page(hotel_id, failed={"form": which, "values": values, "errors": errors,
                                                    "message": message}, status=refused.http_status)

    @page("POST", "/partner/hotels/<int:hotel_id>")
    @partner_only(back="/partner/hotels/{hotel_id}")
    def partner_hotel_save(self, request, hotel_id):
        form = {name: request.form.get(name, "") for name in PROFILE_FIELDS}
        form_fields(request, PROFILE_FIELDS)  # nothing else may come
        changes = {**form, "amenities": [part.strip() for part in form["amenities"].split(",") if part.strip()]}
        for name in ("name", "address", "check_in_time", "check_out_time", "description"):
            if not changes[name].strip():
                changes.pop(name)  # a blank is refused below, by name, rather than sent
        blank = [name for name in ("name", "address", "check_in_time", "check_out_time") if name not in changes]
        if blank:
            return self._profile_page(hotel_id, failed={"form": "profile", "values": form, "errors": dict.fromkeys(
                blank, "Please fill this in.")}, status=400)
        try:
            self.search.update_hotel(hotel_id, **changes)
        except BookingError as refused:
            return self._refused_form(hotel_id, "profile", form, refused, PROFILE_FIELDS)
        self.session.tell(NOTICE, message="The hotel's profile is saved.")
        return redirect(f"/partner/hotels/{hotel_id}", code=303)

    @page("POST", "/partner/hotels/<int:hotel_id>/room-types")
    @partner_only(back="/partner/hotels/{hotel_id}")
    def partner_room_type_add(self, request, hotel_id):
        form = form_fields(request, NEW_ROOM_TYPE_FIELDS)
        try:
            self.search.add_room_type(hotel_id, **whole_numbers(form))
        except BookingError as refused:
            return self._refused_form(hotel_id, "new", form, refused, NEW_ROOM_TYPE_FIELDS)
        self.session.tell(NOTICE, message=f"{form.get('name')} is added, on a flexible plan at {form.get('price')}.")
        return redirect(f"/partner/hotels/{hotel_id}#room-types", code=303)

    @page("POST", "/partner/hotels/<int:hotel_id>/room-types/<string:room_type>")
    @partner_only(back="/partner/hotels/{hotel_id}")
    def partner_room_type_save(self, request, hotel_id, room_type):
        form = form_fields(request, ROOM_TYPE_FIELDS)
        try:
            self.search.update_room_type(hotel_id, room_type, **whole_numbers(form))
        except BookingError as refused:
            if refused.code == "ROOM_TYPE_NOT_FOUND":
                raise
            return self._refused_form(hotel_id, room_type, form, refused, ROOM_TYPE_FIELDS)
        self.session.tell(NOTICE, message=f"{form.get('name') or 'The room type'} is saved.")
        return redirect(f"/partner/hotels/{hotel_id}#type-{room_type}", code=303)

    # -- the rate calendar ------------------------------------------------------------------------

    @page("GET", "/partner/hotels/<int:hotel_id>/calendar")
    @partner_only()
    def partner_calendar_page(self, request, hotel_id):
        return self._calendar_page(hotel_id, page_args(request, ("month",)).get("month"))

    def _calendar_page(self, hotel_id, month, form=None, errors=None, error=None, status=200):
        hotel = self.search.partner_hotel(hotel_id)
        today = hotel_today(hotel.get("timezone"))
        first = first_of_month(month, today)
        calendar = self.search.calendar(hotel_id, first.isoformat(), last_of_month(first).isoformat())
        days, rows = calendar_grid(calendar, today)
        plans = list({plan["code"]: plan["name"] for room in hotel["room_types"]
                      for plan in room.get("rate_plans") or []}.items())
        return self.templates.render(
            "partner/calendar.html", session=self.session, hotel=hotel, here="calendar", calendar=calendar,
            days=days, rows=rows, plans=plans, month=first, month_label=first.strftime("%B %Y"),
            previous=previous_month(first).strftime("%Y-%m"), next=next_month(first).strftime("%Y-%m"),
            this_month=today.strftime("%Y-%m"), form=form or {"start": first.isoformat(),
                                                              "end": last_of_month(first).isoformat()},
            errors=errors or {}, error=error, notice=self._told(), status=status)

    @page("POST", "/partner/hotels/<int:hotel_id>/calendar")
    @partner_only(back="/partner/hotels/{hotel_id}/calendar")
    def partner_calendar_save(self, request, hotel_id):
        form = form_fields(request, CALENDAR_FORM)
        month = form.get("month")
        values = calendar_change(form)
        missing = dict.fromkeys((name for name in ("room_type", "start", "end") if not form.get(name)),
                                "Please fill this in.")
        if missing or not values:
            return self._calendar_page(
                hotel_id, month, form=form, errors=missing, status=400,
                error=None if values else "Choose what to change: a price, closed or open, a minimum stay, "
                                          "or closed to arrival.")
        try:
            self.search.set_calendar(hotel_id, form["room_type"], form.get("rate_plan") or "*", form["start"],
                                     form["end"], **values)
        except BookingError as refused:
            if refused.http_status >= 500 or refused.code == "HOTEL_NOT_FOUND":
                raise
            details = {CALENDAR_ALIASES.get(key, key): problem for key, problem in (refused.details or {}).items()}
            errors = field_problems(details, CALENDAR_FORM)
            shown = set(CALENDAR_FORM)
            message = refused.message if refused.code != "VALIDATION_ERROR" or not errors else None
            hidden = [f"{field_name(field)}: {problem}" for field, problem in errors.items() if field not in shown]
            if hidden:
                message = " ".join([message or "Please check what you entered.", *hidden])
            return self._calendar_page(hotel_id, month, form=form, errors=errors, error=message,
                                       status=refused.http_status)
        hotel = self.search.partner_hotel(hotel_id)
        room = next((room for room in hotel["room_types"] if room["code"] == form["room_type"]), {})
        plan = next((plan["name"] for plan in room.get("rate_plans") or []
                     if plan["code"] == form.get("rate_plan")), "every plan")
        nights = f"the night of {day_label(form['start'])}" if form["start"] == form["end"] else \
            f"{day_label(form['start'])} to {day_label(form['end'])}"
        self.session.tell(NOTICE, message=f"Saved for {room.get('name', form['room_type'])}, {plan}, {nights}: "
                                          f"{change_in_words(values, hotel.get('currency', ''))}.")
        return redirect(f"/partner/hotels/{hotel_id}/calendar?month={form['start'][:7]}", code=303)

    # -- reservations -----------------------------------------------------------------------------

    @page("GET", "/partner/hotels/<int:hotel_id>/reservations")
    @partner_only()
    def partner_reservations_page(self, request, hotel_id):
        filters = page_args(request, FILTERS)
        pending = self.search.partner_hotel.call_async(hotel_id)
        errors, items = {}, []
        try:
            items = self.reservations.hotel_reservations(hotel_id, **filters)["items"]
        except ValidationFailed as invalid:
            errors = field_problems(invalid.details, FILTERS) or {"q": invalid.message}
        hotel = pending.result()
        today = hotel_today(hotel.get("timezone"))
        return self.templates.render(
            "partner/reservations.html", session=self.session, hotel=hotel, here="reservations",
            filters=filters, errors=errors, statuses=STATUSES, today=today.isoformat(),
            reservations=[dressed_reservation(item, today) for item in items], notice=self._told(),
            here_url=request.full_path.rstrip("?"), status=400 if errors else 200)

    @page("POST", "/partner/reservations/<string:reservation_id>/check-in")
    @partner_only(back="/partner")
    def partner_check_in(self, request, reservation_id):
        return self._reservation_action(request, reservation_id, "check-in")

    @page("POST", "/partner/reservations/<string:reservation_id>/check-out")
    @partner_only(back="/partner")
    def partner_check_out(self, request, reservation_id):
        return self._reservation_action(request, reservation_id, "check-out")

    @page("POST", "/partner/reservations/<string:reservation_id>/no-show")
    @partner_only(back="/partner")
    def partner_no_show(self, request, reservation_id):
        return self._reservation_action(request, reservation_id, "no-show")

    def _reservation_action(self, request, reservation_id, action):
        """Check in, check out or mark a no-show, then back to the list it was done from
        (`back`, a partner page), which says what was done, or why it could not be."""
        back = form_fields(request, ("back",)).get("back") or ""
        if not back.startswith("/partner/") or back.startswith("//"):
            back = "/partner"
        method, done = ACTIONS[action]
        try:
            item = getattr(self.reservations, method)(reservation_id)
        except BookingError as refused:
            if refused.code != "NOT_ALLOWED_NOW":
                raise
            reason = (refused.details or {}).get("reason")
            self.session.tell(NOTICE, error=f"Booking {reservation_id}: "
                                            f"{NOT_ALLOWED_NOW.get(reason, refused.message)}")
            return redirect(back, code=303)
        guest = f" ({item['guest_name']})" if item.get("guest_name") else ""
        self.session.tell(NOTICE, message=f"{done}: booking {reservation_id}{guest}.")
        return redirect(back, code=303)

    # -- the monthly report -----------------------------------------------------------------------

    @page("GET", "/partner/hotels/<int:hotel_id>/report")
    @partner_only()
    def partner_report_page(self, request, hotel_id):
        hotel = self.search.partner_hotel(hotel_id)
        today = hotel_today(hotel.get("timezone"))
        first = first_of_month(page_args(request, ("month",)).get("month"), today)
        report = report_dressed(self.reservations.monthly_report(hotel_id, first.strftime("%Y-%m")))
        return self.templates.render(
            "partner/report.html", session=self.session, hotel=hotel, here="report", report=report,
            month=first.strftime("%Y-%m"), month_label=first.strftime("%B %Y"),
            previous=previous_month(first).strftime("%Y-%m"), next=next_month(first).strftime("%Y-%m"))

    @page("GET", "/partner/hotels/<int:hotel_id>/report.csv")
    @partner_only()
    def partner_report_csv_download(self, request, hotel_id):
        return csv_response(self.reservations.monthly_report_csv(hotel_id, self._report_month(request, hotel_id)))

    @page("GET", "/partner/hotels/<int:hotel_id>/report.pdf")
    @partner_only()
    def partner_report_pdf_download(self, request, hotel_id):
        return pdf_response(self.reservations.monthly_report_pdf(hotel_id,
                                                                        self._report_month(request, hotel_id)))

    def _report_month(self, request, hotel_id):
        month = page_args(request, ("month",)).get("month")
        if not month:
            month = hotel_today(self.search.partner_hotel(hotel_id).get("timezone")).strftime("%Y-%m")
        return first_of_month(month, None).strftime("%Y-%m")
