import base64
import hashlib
import logging
from datetime import date, timedelta
from decimal import Decimal

from nameko.dependency_providers import Config
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from booking.kit.bank import BankUnavailable, CardRefused
from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import UserIdRequest, included_vat, load, money, to_minor
from booking.kit.timers import configured_timer
from booking.payments.exceptions import PaymentDeclined
from booking.reservations import changes, holds, monthly, stays, terms
from booking.reservations.exceptions import (
    CardNeeded,
    ChangeInProgress,
    NoRoomLeft,
    NotChangeable,
    NotConfirmed,
    ReservationNotCancellable,
    ReservationNotFound,
    RoomTypeNotFound,
)
from booking.reservations.models import Base, BookedRoom, BookingChange, Reservation
from booking.reservations.schemas import (
    AvailabilityRequest,
    CancellationSchema,
    CancelRequest,
    CapacityRequest,
    ChangeRequest,
    HoldRequest,
    HotelReservationsRequest,
    MonthRequest,
    NightsRequest,
    PartnerReservationSchema,
    ReservationEvent,
    ReservationIdRequest,
    ReservationSchema,
    StayToComeSchema,
    requested_rooms,
)
from booking.search.exceptions import HotelNotFound, RoomNotSellable

log = logging.getLogger(__name__)

HOLD_SECONDS = 15 * 60
SWEEP_SECONDS = 30
# a hold races other holds for the same nights; PostgreSQL may ask us to try again
HOLD_ATTEMPTS = 3
# a payment in these states may still take the money: its hold is kept meanwhile
UNCONCLUDED = ("pending", "unknown")
# a change still pending after this long lost its worker: the sweep settles it
CHANGE_STALLS_AFTER = 120
# how a change that failed answers a retry with its key
CHANGE_FAILURES = {"PAYMENT_DECLINED": PaymentDeclined, "CARD_INVALID": CardRefused, "NO_ROOM_LEFT": NoRoomLeft,
                   "BANK_UNAVAILABLE": BankUnavailable}


class ReservationsService(Pingable):
    """Rooms held night by night, confirmed when paid, released when not."""

    name = "reservations"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    caller = CallerIdentity()
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("reservation_held", "reservation_confirmed", "reservation_changed", "reservation_cancelled",
                    "reservation_expired", "reservation_checked_in", "reservation_checked_out", "reservation_no_show")
    config = Config()
    search = ServiceRpc("search")
    payments = ServiceRpc("payments", as_service=True)
    reports = ServiceRpc("reports", as_service=True)
    users = ServiceRpc("users", as_service=True)

    @rpc(expected_exceptions=BookingError)
    def hold(self, hotel_id, room_type=None, check_in=None, check_out=None, guests=None, idempotency_key=None,
             rooms=None):
        """Hold rooms for every night from check_in to check_out: all of them, or none.

        Takes hotel_id, check_in, check_out and either rooms, a list of
        {room_type, rate_plan (default "flexible"), adults, children (ages)}, or
        room_type and guests (one room on the flexible plan, as before plans).
        Needs a user token (scope `bookings`). Returns the reservation, status
        "held", with `expires_at` (15 minutes by default), its booked_rooms with
        each night's price and policy, locked as quoted now, and the total. The
        same idempotency_key returns the first answer again.
        Raises NoRoomLeft (409), RoomNotSellable (422), RoomTypeNotFound,
        HotelNotFound, ValidationFailed, IdempotencyKeyReused (422).
        """
        caller = self.caller.require("bookings")
        request = load(HoldRequest(), {
            "hotel_id": hotel_id, "room_type": room_type, "check_in": check_in, "check_out": check_out,
            "guests": guests, "rooms": rooms, "idempotency_key": idempotency_key})
        fingerprint = holds.request_hash(request)
        with self.db.get_session() as session:
            existing = holds.find_by_key(session, caller.user_id, request["idempotency_key"], fingerprint)
            if existing is not None:
                return self._replayed_hold(existing)
        # the catalogue prices the stay before any transaction opens
        quote = self._quote(request["hotel_id"], request["check_in"], request["check_out"], requested_rooms(request),
                            one_room=request["rooms"] is None)
        for attempt in range(1, HOLD_ATTEMPTS + 1):
            try:
                return self._place_hold(caller.user_id, request, fingerprint, quote)
            except IntegrityError:
                with self.db.get_session() as session:  # a retry with the same key won the race
                    existing = holds.find_by_key(session, caller.user_id, request["idempotency_key"],
                                                 fingerprint)
                    if existing is not None:
                        return self._replayed_hold(existing)
                if attempt == HOLD_ATTEMPTS:
                    raise
            except OperationalError:
                if attempt == HOLD_ATTEMPTS:
                    raise

    @rpc(expected_exceptions=BookingError)
    def get(self, reservation_id):
        """One reservation of the caller's (or any, for a service with scope
        `reservations:read`). Raises ReservationNotFound, for someone else's too."""
        caller = self.caller.require()
        with self.db.get_session() as session:
            return ReservationSchema().dump(self._find(session, caller, reservation_id))

    @rpc(expected_exceptions=BookingError)
    def list_mine(self):
        """The caller's reservations, newest first. Needs scope `bookings`."""
        caller = self.caller.require("bookings")
        with self.db.get_session() as session:
            reservations = session.scalars(select(Reservation).where(Reservation.user_id == caller.user_id)
                                           .order_by(Reservation.created_at.desc()))
            return ReservationSchema(many=True).dump(reservations)

    @rpc(expected_exceptions=BookingError)
    def cancellation(self, reservation_id, room=None):
        """What cancelling the caller's reservation (or only its room whose line is
        `room`) now would refund and keep, by the policy it was booked under:
        {refund, penalty, free, rooms, cancellation_policy {deadline, deadline_local,
        timezone, description}}.
        Raises ReservationNotFound, ReservationNotCancellable, ValidationFailed."""
        caller = self.caller.require("bookings")
        request = load(CancelRequest(), {"reservation_id": reservation_id, "room": room})
        with self.db.get_session() as session:
            reservation = self._find(session, caller, request["reservation_id"], any_with_read_scope=False)
            self._check_cancellable(reservation, request["room"])
            figures = terms.cancellation(reservation, holds.utcnow(), request["room"])
            return cancellation_answer(reservation, figures)

    @rpc(expected_exceptions=BookingError)
    def cancel(self, reservation_id, room=None):
        """Cancel a held or confirmed reservation of the caller's (or only its room
        whose line is `room`), before its stay is over. Its rooms are released
        and, if it was paid, payments refunds what the policy gives back (the
        `refund` of `cancellation` at that moment) and the rest is kept
        (`penalty`). Returns the reservation, with this cancellation's `refund`
        and `penalty`. Cancelling again returns it as it is.
        Raises ReservationNotFound, ReservationNotCancellable (409: ended, or the
        stay is over), ValidationFailed."""
        caller = self.caller.require("bookings")
        request = load(CancelRequest(), {"reservation_id": reservation_id, "room": room})
        with self.db.get_session() as session:
            reservation = self._find(session, caller, request["reservation_id"], any_with_read_scope=False)
            line = request["room"]
            # cancelled already (the booking, or that room): a retry changes nothing
            if reservation.status == "cancelled" or (
                    line is not None and line in [x.line for x in reservation.lines if x.status == "cancelled"]):
                return self._cancelled_answer(reservation, terms.cancelled_figures(reservation, line))
            self._check_cancellable(reservation, line)
            now = holds.utcnow()
            figures = terms.cancellation(reservation, now, line)
            if line is not None and len(reservation.active_lines) > 1:
                self._cancel_room(session, reservation, line, figures, now)
                return self._cancelled_answer(reservation, figures)
            moved = holds.move(session, reservation.id, "cancelled", reason="cancelled_by_guest",
                               refund_minor=Reservation.refund_minor + figures["refund_minor"],
                               kept_minor=Reservation.kept_minor + figures["kept_minor"])
            if moved is None:
                raise ReservationNotCancellable(details={"status": reservation.status})
            for booked in moved.active_lines:
                booked.refund_minor, booked.kept_minor = figures["each"][booked.line]
            self._announce(session, "reservation_cancelled", moved)
            return self._cancelled_answer(moved, figures)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("card",))
    def change(self, reservation_id, check_in=None, check_out=None, rooms=None, card=None, idempotency_key=None):
        """Change the dates and/or rooms of a confirmed booking of the caller's,
        while every room may still be cancelled for free. The new nights are held
        before the old ones are given back; a dearer stay is paid with `card` (a
        bank token, as `payments.pay` takes it) before anything else changes, a
        cheaper one is refunded the difference. The same idempotency_key gives the
        same answer. Returns the reservation as changed (a new confirmation PDF and
        e-mail follow).
        Raises NotChangeable (409, details.reason), NoRoomLeft, RoomNotSellable,
        CardNeeded (402), PaymentDeclined, CardRefused, PaymentPending,
        ChangeInProgress, IdempotencyKeyReused, ReservationNotFound, ValidationFailed."""
        caller = self.caller.require("bookings")
        request = load(ChangeRequest(), {"reservation_id": reservation_id, "check_in": check_in,
                                         "check_out": check_out, "rooms": rooms, "card": card,
                                         "idempotency_key": idempotency_key})
        fingerprint = holds.request_hash({k: v for k, v in request.items() if k != "card"})
        with self.db.get_session() as session:
            reservation = self._find(session, caller, request["reservation_id"], any_with_read_scope=False)
            earlier = changes.find_by_key(session, reservation.id, request["idempotency_key"], fingerprint)
            if earlier is not None:
                return self._change_answer(session, earlier)
            why = terms.why_not_changeable(reservation, holds.utcnow().date(), holds.utcnow())
            if why:
                raise NotChangeable(details={"reason": why})
            wanted = request["rooms"] or [
                {"room_type": line.room_type, "rate_plan": line.rate_plan, "adults": line.adults,
                 "children": line.children} for line in reservation.active_lines]
            stay = (request["check_in"] or reservation.check_in, request["check_out"] or reservation.check_out)
            old_total, hotel_id, currency = reservation.total_minor, reservation.hotel_id, reservation.currency
            version = reservation.version
        quote = self._quote(hotel_id, *stay, wanted)
        why = terms.why_quote_not_changeable(quote, holds.utcnow())
        if why:
            raise NotChangeable("The new stay would not be free to cancel", details={"reason": why})
        difference = to_minor(quote["total"]["amount"], currency) - old_total
        if difference > 0 and request["card"] is None:
            raise CardNeeded(details={"difference": money(difference, currency)})
        change_id = self._begin_change(request["reservation_id"], version, request, fingerprint, quote, difference)
        if difference > 0:
            try:
                payment = self.payments.charge_difference(
                    request["reservation_id"], caller.user_id, difference, currency, request["card"],
                    f"change-{change_id}")
            except PaymentDeclined as declined:
                failure = PaymentDeclined("The card was declined: the booking is as it was, nothing was charged",
                                          details=declined.details)
                self._abandon_change(change_id, failure)
                raise failure from None
            except BookingError as failure:
                if failure.code != "PAYMENT_PENDING":  # unknown: the sweep settles it
                    self._abandon_change(change_id, failure)
                raise
            with self.db.get_session() as session:
                session.get(BookingChange, change_id).payment_id = payment["id"]
        return self._finish_change(change_id)

    @rpc(expected_exceptions=BookingError)
    def availability(self, hotel_id, check_in, check_out):
        """Rooms left of each room type on every night of a stay. Public.
        Returns {room type code: rooms}."""
        request = load(AvailabilityRequest(), {"hotel_id": hotel_id, "check_in": check_in,
                                               "check_out": check_out})
        hotel = self.search.get_hotel(request["hotel_id"])
        capacities = {room["code"]: room["room_count"] for room in hotel["room_types"]}
        with self.db.get_session() as session:
            return holds.rooms_left(session, request["hotel_id"], capacities,
                                    holds.nights(request["check_in"], request["check_out"]))

    @rpc(expected_exceptions=BookingError)
    def confirmation_pdf(self, reservation_id):
        """The confirmation PDF of a confirmed reservation of the caller's (or any,
        with scope `reservations:read`): {filename, content_type, content_base64,
        sha256, size}. Rendered by reports on confirmation and kept.
        Raises ReservationNotFound, NotConfirmed."""
        caller = self.caller.require()
        with self.db.get_session() as session:
            reservation = self._find(session, caller, reservation_id)
            if reservation.status != "confirmed":
                raise NotConfirmed(details={"status": reservation.status})
            kept = reservation.confirmation_pdf
        if kept is None:
            kept = self._render_confirmation(reservation_id)
        return pdf_file(f"confirmation-{reservation_id}.pdf", kept)

    # -- a guest's data: what is still to come, a copy, erasure -------------------------

    @rpc(expected_exceptions=BookingError)
    def stays_to_come(self, user_id):
        """The guest's confirmed stays not over yet (checked in, or to come), which
        keep the account from being deleted: [{id, hotel_name, check_in, check_out}],
        soonest first. Needs scope `reservations:read` (users)."""
        self.caller.require("reservations:read")
        request = load(UserIdRequest(), {"user_id": user_id})
        with self.db.get_session() as session:
            return StayToComeSchema(many=True).dump(session.scalars(select(Reservation).where(
                Reservation.user_id == request["user_id"], Reservation.status.in_(("confirmed", "checked_in")),
                Reservation.check_out >= date.today()).order_by(Reservation.check_in)))

    @rpc(expected_exceptions=BookingError)
    def guest_data(self, user_id):
        """Reservations' part of a guest's data export: {reservations: [as the API
        shows them], confirmations: {reference: PDF as base64}} (a PDF for each
        booking that was confirmed: kept, or rendered now). Needs scope
        `reservations:read` (users)."""
        self.caller.require("reservations:read")
        request = load(UserIdRequest(), {"user_id": user_id})
        with self.db.get_session() as session:
            reservations = ReservationSchema(many=True).dump(session.scalars(
                select(Reservation).where(Reservation.user_id == request["user_id"])
                .order_by(Reservation.created_at)))
        confirmed = [r["id"] for r in reservations if r["status"] in monthly.SOLD]
        return {"reservations": reservations,
                "confirmations": {reference: base64.b64encode(self._render_confirmation(reference)).decode()
                                  for reference in confirmed}}

    @event_handler("users", "user_deleted")
    def forget_guest(self, payload):
        """A deleted account: its holds end (nobody can pay them any more) and its
        confirmations, which print the guest's name and address, are dropped. The
        reservations stay, as the accounts must, under the account's number, which
        now leads to no one. Delivered again, it changes nothing."""
        with self.db.get_session() as session:
            held = list(session.scalars(select(Reservation.id).where(
                Reservation.user_id == payload["user_id"], Reservation.status == "held")))
        for reservation_id in held:
            self._end_hold(reservation_id, "cancelled", "account_deleted")
        with self.db.get_session() as session:
            session.execute(update(Reservation).where(Reservation.user_id == payload["user_id"])
                            .values(confirmation_pdf=None))

    # -- the hotel's side -------------------------------------------------------------

    @rpc(expected_exceptions=BookingError)
    def set_capacity(self, hotel_id, room_type, rooms):
        """From today on (from yesterday in UTC, which is today somewhere), the hotel
        sells `rooms` of `room_type` a night (search tells it when a manager changes
        the number). Needs scope `inventory:write`. Raises RoomsSold (409,
        `details.nights` [{date, sold}]) if more are sold on some night, and changes
        nothing then. Returns {hotel_id, room_type, rooms}."""
        self.caller.require("inventory:write")
        request = load(CapacityRequest(), {"hotel_id": hotel_id, "room_type": room_type, "rooms": rooms})
        with self.db.get_session() as session:
            holds.set_capacity(session, request["hotel_id"], request["room_type"], request["rooms"],
                               holds.utcnow().date() - timedelta(days=1))
        return request

    @rpc(expected_exceptions=BookingError)
    def sold(self, hotel_id, start, end):
        """{room type: {iso night: {sold, capacity}}} of the hotel's nights from
        `start` to `end` that anything has touched. Needs scope `inventory:read`."""
        self.caller.require("inventory:read")
        request = load(NightsRequest(), {"hotel_id": hotel_id, "start": start, "end": end})
        with self.db.get_session() as session:
            return holds.sold(session, request["hotel_id"], request["start"], request["end"])

    @rpc(expected_exceptions=BookingError)
    def hotel_reservations(self, hotel_id, arrival=None, departure=None, status=None, q=None):
        """The reservations of a hotel the caller manages (search says which; scope
        `partner`), the latest arrival first, with each guest's name and e-mail
        address (never card data): `arrival` and `departure` (ISO dates) and
        `status` filter, `q` finds a reference or part of a name or address.
        Holds that ended unpaid are left out unless `status` asks for them.
        Returns {items: [...]}. Raises HotelNotFound (not the caller's)."""
        self.caller.require("partner")
        request = load(HotelReservationsRequest(), {"hotel_id": hotel_id, "arrival": arrival, "departure": departure,
                                                    "status": status, "q": q})
        self.search.managed(request["hotel_id"])
        with self.db.get_session() as session:
            found = stays.hotel_reservations(session, request["hotel_id"], request["arrival"], request["departure"],
                                             request["status"])
            items = PartnerReservationSchema(many=True).dump(found)
            user_ids = sorted({reservation.user_id for reservation in found})
        guests = self.users.get_many(user_ids) if user_ids else {}
        for item, reservation in zip(items, found, strict=True):
            guest = guests.get(str(reservation.user_id)) or {}
            item.update(guest_name=guest.get("full_name"), guest_email=guest.get("email"))
        return {"items": [item for item in items if stays.matches(item, request["q"])]}

    @rpc(expected_exceptions=BookingError)
    def check_in(self, reservation_id):
        """The guest has arrived: confirmed -> checked_in, from the day of arrival
        (the hotel's time). Scope `partner`, for a hotel the caller manages.
        Again: the same answer. Raises NotAllowedNow (409, `details.reason`
        too_early or not_confirmed), ReservationNotFound."""
        return self._stay_step(reservation_id, "check_in")

    @rpc(expected_exceptions=BookingError)
    def check_out(self, reservation_id):
        """The guest has left: checked_in -> checked_out. As `check_in`."""
        return self._stay_step(reservation_id, "check_out")

    @rpc(expected_exceptions=BookingError)
    def no_show(self, reservation_id):
        """The guest did not come: confirmed -> no_show, from the day of arrival. Its
        rooms go back on sale; the policy's penalty is kept and the rest of what was
        paid refunded (payments, on `reservation_no_show`). As `check_in`."""
        return self._stay_step(reservation_id, "no_show")

    @rpc(expected_exceptions=BookingError)
    def monthly_report(self, hotel_id, month):
        """A managed hotel's month ("2027-01"): rooms available and sold, occupancy,
        ADR, RevPAR, revenue net of refunds, penalties kept, cancellations and
        no-shows, in all, per room type and per day (booking/reservations/monthly.py)."""
        return self._month(hotel_id, month)[0]

    @rpc(expected_exceptions=BookingError)
    def monthly_report_csv(self, hotel_id, month):
        """The monthly report as CSV: {filename, content_type, csv}."""
        figures, _ = self._month(hotel_id, month)
        return {"filename": f"monthly-report-{figures['hotel_id']}-{figures['month']}.csv", "content_type": "text/csv",
                "csv": monthly.figures_csv(figures)}

    @rpc(expected_exceptions=BookingError)
    def monthly_report_pdf(self, hotel_id, month):
        """The monthly report as a PDF rendered by reports, with a chart of each day's
        occupancy: as `confirmation_pdf` answers."""
        figures, hotel = self._month(hotel_id, month)
        document = self.reports.render("monthly_report", {**figures, "hotel_name": hotel["name"],
                                                          "hotel_city": hotel["city"]})
        return pdf_file(f"monthly-report-{figures['hotel_id']}-{figures['month']}.pdf",
                        base64.b64decode(document["content_base64"]))

    def _month(self, hotel_id, month):
        self.caller.require("partner")
        request = load(MonthRequest(), {"hotel_id": hotel_id, "month": month})
        hotel = self.search.managed(request["hotel_id"])
        first = date.fromisoformat(f"{request['month']}-01")
        with self.db.get_session() as session:
            figures = monthly.month_figures(session, request["hotel_id"], first, hotel["room_types"],
                                            currency=hotel.get("currency"))
        return figures, hotel

    def _stay_step(self, reservation_id, step):
        self.caller.require("partner")
        request = load(ReservationIdRequest(), {"reservation_id": reservation_id})
        with self.db.get_session() as session:
            reservation = session.get(Reservation, request["reservation_id"])
            hotel_id = reservation.hotel_id if reservation is not None else None
        try:
            if hotel_id is None:
                raise HotelNotFound()
            self.search.managed(hotel_id)
        except HotelNotFound:  # another hotel's is none of the caller's business
            raise ReservationNotFound(details={"reservation_id": request["reservation_id"]}) from None
        with self.db.get_session() as session:
            reservation = session.get(Reservation, request["reservation_id"])
            if stays.check_step(reservation, step, holds.utcnow()) is None:
                _, reached = stays.STEPS[step]
                extra = {}
                if step == "no_show":
                    figures = stays.no_show_figures(reservation)
                    extra = {"refund_minor": Reservation.refund_minor + figures["refund_minor"],
                             "kept_minor": Reservation.kept_minor + figures["kept_minor"]}
                moved = holds.move(session, reservation.id, reached, reason=f"{step}_by_hotel",
                                   only_from=(stays.STEPS[step][0],), **extra)
                if moved is not None and step == "no_show":
                    for booked in moved.active_lines:
                        booked.refund_minor, booked.kept_minor = figures["each"][booked.line]
                if moved is None:  # a twin took the step a moment ago
                    session.refresh(reservation)
                    stays.check_step(reservation, step, holds.utcnow())
                else:
                    reservation = moved
                    self._announce(session, f"reservation_{reached}", moved)
            answer, user_id = PartnerReservationSchema().dump(reservation), reservation.user_id
        guest = self.users.get_many([user_id]).get(str(user_id)) or {}
        return {**answer, "guest_name": guest.get("full_name"), "guest_email": guest.get("email")}

    # -- the saga ------------------------------------------------------------------

    @event_handler("payments", "payment_succeeded")
    def confirm_paid(self, payment):
        """Paid: the hold becomes a confirmed reservation. Paid too late (the hold
        expired or was cancelled meanwhile) or twice: the money goes back.
        Delivered again, it changes nothing. (The difference of a change is paid
        inside `change`, which waits for it.)"""
        if payment.get("purpose", "booking") == "booking":
            self._confirm(payment["reservation_id"], payment["payment_id"])

    @event_handler("payments", "payment_failed")
    def note_refused_card(self, payment):
        """A refused card does not end the hold: the guest may try another card until
        the hold expires. The hold notes why, for its page and the API. Delivered
        again, or after the hold was paid or ended, it changes nothing that matters."""
        if payment.get("purpose", "booking") == "booking":
            with self.db.get_session() as session:
                holds.note_payment_failure(session, payment["reservation_id"], payment.get("failure_code"))

    @event_handler("payments", "payment_refunded")
    def note_refund(self, payment):
        with self.db.get_session() as session:
            reservation = session.get(Reservation, payment["reservation_id"])
            if reservation is not None:
                reservation.refunded = True

    # eager: a restarted instance sweeps at once, so restarts never postpone an expiry
    @configured_timer("HOLD_SWEEP_SECONDS", SWEEP_SECONDS, eager=True)
    def expire_holds(self):
        """Holds past their expiry give their rooms back, unless a payment for them
        went through after all, or may still: payments first settles with the bank
        any outcome it does not know, and a payment still being charged, or whose
        outcome the bank cannot tell yet, keeps the hold until a later sweep finds
        it concluded. Safe with several instances sweeping at once."""
        with self.db.get_session() as session:
            due = holds.expired_holds(session, holds.utcnow())
            stalled = changes.stale(session, holds.utcnow() - timedelta(seconds=CHANGE_STALLS_AFTER))
        for change_id in stalled:
            self._settle_change(change_id)
        for reservation_id in due:
            try:
                payments = self.payments.for_reservation(reservation_id)
            except BookingError:
                continue  # payments cannot say: keep the hold until the next sweep
            paid = [p for p in payments if p["status"] == "succeeded"]
            if paid:
                self._confirm(reservation_id, paid[0]["id"])
            elif not any(p["status"] in UNCONCLUDED for p in payments):
                self._end_hold(reservation_id, "expired", "not_paid_in_time")

    # -- internals -------------------------------------------------------------------

    def _quote(self, hotel_id, check_in, check_out, rooms, one_room=False):
        """Search's quote of the stay; a request from before rate plans (`one_room`)
        keeps its old answer for a room type the hotel lacks or too many guests."""
        try:
            return self.search.quote(hotel_id, check_in.isoformat(), check_out.isoformat(), rooms)
        except RoomNotSellable as refused:
            if one_room and any(key.endswith((".room_type", ".adults")) for key in refused.details):
                raise RoomTypeNotFound(details={"room_type": rooms[0]["room_type"]}) from None
            raise

    def _place_hold(self, user_id, request, fingerprint, quote):
        now = holds.utcnow()
        lines = terms.lines_from_quote(quote)
        with self.db.get_session() as session:
            holds.take_counts(session, request["hotel_id"], holds.room_nights(lines), terms.capacities(quote))
            reservation = Reservation(
                id=holds.new_reference(), user_id=user_id, idempotency_key=request["idempotency_key"],
                request_hash=fingerprint, hotel_id=request["hotel_id"], hotel_name=quote["hotel"]["name"],
                hotel_address=quote["hotel"]["address"], timezone=quote["hotel"]["timezone"],
                check_in_time=quote["hotel"]["check_in_time"], currency=quote["currency"], quote=quote,
                lines=lines, status="held", version=1, kept_minor=0, refund_minor=0,
                expires_at=now + timedelta(seconds=int(self.config.get("HOLD_SECONDS", HOLD_SECONDS))),
                created_at=now, updated_at=now, refunded=False,
            )
            terms.summarise(reservation)
            session.add(reservation)
            session.flush()
            self._announce(session, "reservation_held", reservation)
            return ReservationSchema().dump(reservation)

    def _check_cancellable(self, reservation, line):
        if reservation.changing is not None:
            raise ChangeInProgress("This booking is being changed; cancel it once the change is done")
        if line is not None and line not in [x.line for x in reservation.active_lines]:
            raise ReservationNotCancellable("This booking has no such room to cancel",
                                            details={"room": str(line)})
        if reservation.status not in holds.HOLDS_ROOMS:
            raise ReservationNotCancellable(details={"status": reservation.status})
        if reservation.check_out <= holds.utcnow().date():
            raise ReservationNotCancellable("This stay is over; it can no longer be cancelled",
                                            details={"status": reservation.status, "check_out": "past"})

    def _cancel_room(self, session, reservation, number, figures, now):
        """One room of several: it goes back, the policy's refund for it is granted."""
        line = next(x for x in reservation.active_lines if x.line == number)
        refund, kept = figures["each"][number]
        moved = session.execute(update(BookedRoom).where(BookedRoom.id == line.id, BookedRoom.status == "active")
                                .values(status="cancelled", refund_minor=refund, kept_minor=kept)
                                .execution_options(synchronize_session=False)).rowcount
        if not moved:
            return  # a twin request cancelled it a moment ago
        holds.give_counts(session, reservation.hotel_id, holds.room_nights([line]))
        session.refresh(line)
        terms.summarise(reservation)
        reservation.refund_minor += figures["refund_minor"]
        reservation.kept_minor += figures["kept_minor"]
        reservation.version += 1
        reservation.updated_at = now
        reservation.confirmation_pdf = None
        session.flush()
        self._announce(session, "reservation_changed", reservation)

    @staticmethod
    def _cancelled_answer(reservation, figures):
        """The reservation, with what this cancellation refunded and kept."""
        answer = ReservationSchema().dump(reservation)
        answer["cancellation"] = cancellation_answer(reservation, figures)
        return answer

    def _begin_change(self, reservation_id, version, request, fingerprint, quote, difference):
        for attempt in range(1, HOLD_ATTEMPTS + 1):
            try:
                with self.db.get_session() as session:
                    return changes.begin(session, reservation_id, version, request["idempotency_key"], fingerprint,
                                         quote, difference, holds.utcnow())
            except IntegrityError:
                raise ChangeInProgress() from None  # a twin request with this key began first
            except OperationalError:
                if attempt == HOLD_ATTEMPTS:
                    raise

    def _abandon_change(self, change_id, failure):
        with self.db.get_session() as session:
            changes.abandon(session, change_id, {"error": failure.code, "message": failure.message,
                                                 "details": failure.details})

    def _finish_change(self, change_id):
        """Apply a paid change, announce it, and answer with the booking as it is
        now; its new confirmation is rendered after."""
        with self.db.get_session() as session:
            reservation = changes.finish(session, change_id)
            if reservation is not None:
                self._announce(session, "reservation_changed", reservation)
            answer = self._change_answer(session, session.get(BookingChange, change_id))
        if reservation is not None:
            try:
                self._render_confirmation(answer["id"])
            except Exception:
                log.warning("the new confirmation of %s will be rendered when first asked for", answer["id"])
        return answer

    def _change_answer(self, session, change):
        """The answer a change gave (again, for a retry with its key)."""
        if change.status == "pending":
            raise ChangeInProgress()
        if change.status == "failed":
            failure = change.failure or {}
            raise CHANGE_FAILURES.get(failure.get("error"), NotChangeable)(
                failure.get("message"), details=failure.get("details"))
        reservation = session.get(Reservation, change.reservation_id)
        answer = ReservationSchema().dump(reservation)
        answer["change"] = {"id": change.id, "difference": money(change.difference_minor, reservation.currency)}
        return answer

    def _confirm(self, reservation_id, payment_id):
        """The hold becomes a confirmed reservation, with its confirmation PDF
        (rendered first, so that the e-mail its event causes can carry it); a
        payment for a reservation that is no longer held, and not by it, goes back."""
        with self.db.get_session() as session:
            reservation = session.get(Reservation, reservation_id)
            held = reservation is not None and reservation.status == "held"
            late = reservation is not None and not held and reservation.payment_id != payment_id
            details = ReservationSchema().dump(reservation) if held else None
        if held:
            pdf = self._render_confirmation_of(details)
            with self.db.get_session() as session:
                moved = holds.move(session, reservation_id, "confirmed", reason="paid", payment_id=payment_id,
                                   last_payment_failure=None)
                if moved is not None:
                    if moved.confirmation_pdf is None:
                        moved.confirmation_pdf = pdf
                    self._announce(session, "reservation_confirmed", moved)
                    return
                late = session.get(Reservation, reservation_id).payment_id != payment_id  # ended meanwhile
        if late:
            self.payments.refund(payment_id)

    def _render_confirmation_of(self, reservation):
        """The confirmation PDF of a reservation (as ReservationSchema dumps it), or
        None if it cannot be rendered now: the booking is confirmed whatever happens
        to its document, which is rendered again when first asked for."""
        try:
            guest = self.users.get(reservation["user_id"])
            document = self.reports.render("booking_confirmation", confirmation_data(reservation, guest))
        except Exception:
            log.warning("the confirmation of %s will be rendered when first asked for", reservation["id"],
                        exc_info=True)
            return None
        return base64.b64decode(document["content_base64"])

    def _render_confirmation(self, reservation_id):
        """The confirmation kept, or rendered through reports and kept; no
        transaction is open while reports works."""
        with self.db.get_session() as session:
            kept = session.scalar(select(Reservation.confirmation_pdf).where(Reservation.id == reservation_id))
            if kept is not None:
                return kept
            reservation = ReservationSchema().dump(session.get(Reservation, reservation_id))
        guest = self.users.get(reservation["user_id"])
        document = self.reports.render("booking_confirmation", confirmation_data(reservation, guest))
        pdf = base64.b64decode(document["content_base64"])
        with self.db.get_session() as session:
            # the first rendering kept wins, so every reader gets the same document
            session.execute(update(Reservation).where(Reservation.id == reservation_id,
                                                      Reservation.confirmation_pdf.is_(None))
                            .values(confirmation_pdf=pdf))
            return session.scalar(select(Reservation.confirmation_pdf).where(Reservation.id == reservation_id))

    def _settle_change(self, change_id):
        """A change whose worker died: finished if its difference was paid (or there
        was none to pay), abandoned if the charge failed or never began."""
        with self.db.get_session() as session:
            change = session.get(BookingChange, change_id)
            reservation_id, difference = change.reservation_id, change.difference_minor
        if difference > 0:
            try:
                payments = self.payments.for_reservation(reservation_id)
            except BookingError:
                return  # payments cannot say: the next sweep asks again
            mine = [p for p in payments if p.get("purpose") == f"change-{change_id}"]
            if any(p["status"] in UNCONCLUDED for p in mine):
                return
            if not any(p["status"] == "succeeded" for p in mine):
                with self.db.get_session() as session:
                    changes.abandon(session, change_id, {"error": "PAYMENT_DECLINED",
                                                         "message": "The difference could not be charged"})
                return
        self._finish_change(change_id)

    def _end_hold(self, reservation_id, status, reason):
        """End a hold (only a hold: a failed second card must not cancel a paid
        booking), and announce it in the same transaction."""
        with self.db.get_session() as session:
            moved = holds.move(session, reservation_id, status, reason=reason, only_from=("held",))
            if moved is not None:
                self._announce(session, f"reservation_{status}", moved)

    def _announce(self, session, event_type, reservation):
        """Record the event in the transaction of the change it tells of."""
        self.outbox.add(session, event_type, ReservationEvent().dump(reservation), aggregate=reservation.id)

    def _replayed_hold(self, reservation):
        """The first answer again (its event was recorded with it)."""
        return ReservationSchema().dump(reservation)

    @staticmethod
    def _find(session, caller, reservation_id, any_with_read_scope=True):
        """The caller's reservation (or, to read it, any with scope `reservations:read`:
        a read scope never authorises a change)."""
        request = load(ReservationIdRequest(), {"reservation_id": reservation_id})
        reservation = session.get(Reservation, request["reservation_id"])
        mine = reservation is not None and (
            reservation.user_id == caller.user_id or (any_with_read_scope and "reservations:read" in caller.scopes))
        if not mine:
            # someone else's reservation is as unknown as a missing one
            raise ReservationNotFound(details={"reservation_id": str(reservation_id)})
        return reservation


def confirmation_data(reservation, guest):
    """What the booking_confirmation template needs, from a reservation (as
    ReservationSchema dumps it) and its guest."""
    currency = reservation["total"]["currency"]
    rooms = [line for line in reservation["booked_rooms"] if line["status"] == "active"]
    room_total = sum(to_minor(line["price"]["amount"], currency) for line in rooms)
    vat = included_vat(room_total, int(Decimal(reservation["vat_rate"]) * 100))
    return {
        "reference": reservation["id"], "guest_name": guest["full_name"], "guest_email": guest["email"],
        "hotel_name": reservation["hotel_name"], "hotel_address": reservation["hotel_address"],
        "room_name": reservation["room_name"], "guests": reservation["guests"],
        "check_in": reservation["check_in"], "check_out": reservation["check_out"],
        "check_in_time": reservation["check_in_time"], "check_out_time": reservation["check_out_time"],
        "nightly_price": reservation["nightly_price"]["amount"],
        "rooms": [{"name": f"{line['room_name']} ({line['rate_plan_name']})",
                   "guests": line["adults"] + len(line["children"]), "nights": len(line["nights"]),
                   "price": line["price"]["amount"]} for line in rooms],
        "city_tax": reservation["city_tax"]["amount"],
        "vat_rate": reservation["vat_rate"],
        "taxes": money(vat, currency)["amount"],
        "total": reservation["total"]["amount"], "currency": currency,
        "cancellation_policy": reservation["cancellation_policy"]["description"],
    }


def cancellation_answer(reservation, figures):
    return CancellationSchema().dump({**figures, "currency": reservation.currency,
                                      "cancellation_policy": ReservationSchema().policy_of(reservation)})


def pdf_file(filename, pdf):
    return {"filename": filename, "content_type": "application/pdf",
            "content_base64": base64.b64encode(pdf).decode(), "sha256": hashlib.sha256(pdf).hexdigest(),
            "size": len(pdf)}
