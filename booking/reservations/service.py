import base64
import hashlib
import logging
from datetime import timedelta
from decimal import Decimal

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import load, to_minor
from booking.reservations import holds
from booking.reservations.exceptions import (
    NotConfirmed,
    ReservationNotCancellable,
    ReservationNotFound,
    RoomTypeNotFound,
)
from booking.reservations.models import Base, Reservation
from booking.reservations.schemas import (
    AvailabilityRequest,
    HoldRequest,
    ReservationEvent,
    ReservationIdRequest,
    ReservationSchema,
)

log = logging.getLogger(__name__)

HOLD_SECONDS = 15 * 60
# prices include VAT at this rate; the confirmation shows the part that is tax
VAT_RATE = Decimal("0.10")
SWEEP_SECONDS = 30
# a hold races other holds for the same nights; PostgreSQL may ask us to try again
HOLD_ATTEMPTS = 3
# a payment in these states may still take the money: its hold is kept meanwhile
UNCONCLUDED = ("pending", "unknown")


class ReservationsService(Pingable):
    """Rooms held night by night, confirmed when paid, released when not."""

    name = "reservations"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    caller = CallerIdentity()
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("reservation_held", "reservation_confirmed", "reservation_cancelled", "reservation_expired")
    config = Config()
    search = ServiceRpc("search")
    payments = ServiceRpc("payments", as_service=True)
    reports = ServiceRpc("reports", as_service=True)
    users = ServiceRpc("users", as_service=True)

    @rpc(expected_exceptions=BookingError)
    def hold(self, hotel_id, room_type, check_in, check_out, guests=1, idempotency_key=None):
        """Hold one room of `room_type` for every night from check_in to check_out.

        Needs a user token (scope `bookings`). Returns the reservation, status
        "held", with `expires_at` (15 minutes by default) and the total. The same
        idempotency_key returns the first answer again.
        Raises NoRoomLeft (409), RoomTypeNotFound, HotelNotFound, ValidationFailed,
        IdempotencyKeyReused (422, the key was used for another request).
        """
        caller = self.caller.require("bookings")
        request = load(HoldRequest(), {
            "hotel_id": hotel_id, "room_type": room_type, "check_in": check_in,
            "check_out": check_out, "guests": guests, "idempotency_key": idempotency_key})
        fingerprint = holds.request_hash(request)
        with self.db.get_session() as session:
            existing = holds.find_by_key(session, caller.user_id, request["idempotency_key"], fingerprint)
            if existing is not None:
                return self._replayed_hold(existing)
        # the catalogue answers before any transaction opens
        hotel = self.search.get_hotel(request["hotel_id"], guests=request["guests"])
        room = next((r for r in hotel["room_types"] if r["code"] == request["room_type"]), None)
        if room is None:
            raise RoomTypeNotFound(details={"room_type": request["room_type"]})
        for attempt in range(1, HOLD_ATTEMPTS + 1):
            try:
                return self._place_hold(caller.user_id, request, fingerprint, hotel, room)
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
    def cancel(self, reservation_id):
        """Cancel a held or confirmed reservation of the caller's, before its stay is
        over; its rooms are released and, if it was paid, payments refunds it.
        Cancelling again returns it as it is. Raises ReservationNotFound,
        ReservationNotCancellable (409: ended, or the stay is over)."""
        caller = self.caller.require("bookings")
        with self.db.get_session() as session:
            reservation = self._find(session, caller, reservation_id, any_with_read_scope=False)
            if reservation.status == "cancelled":  # cancelled already: a retry changes nothing
                return ReservationSchema().dump(reservation)
            if reservation.check_out <= holds.utcnow().date():
                raise ReservationNotCancellable("This stay is over; it can no longer be cancelled",
                                                details={"status": reservation.status, "check_out": "past"})
            moved = holds.move(session, reservation.id, "cancelled", reason="cancelled_by_guest")
            if moved is None:
                raise ReservationNotCancellable(details={"status": reservation.status})
            self._announce(session, "reservation_cancelled", moved)
            return ReservationSchema().dump(moved)

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
        return pdf_file(reservation_id, kept)

    # -- the saga ------------------------------------------------------------------

    @event_handler("payments", "payment_succeeded")
    def confirm_paid(self, payment):
        """Paid: the hold becomes a confirmed reservation. Paid too late (the hold
        expired or was cancelled meanwhile) or twice: the money goes back.
        Delivered again, it changes nothing."""
        self._confirm(payment["reservation_id"], payment["payment_id"])

    @event_handler("payments", "payment_failed")
    def release_unpaid(self, payment):
        """The card was refused: the rooms go back at once."""
        self._end_hold(payment["reservation_id"], "cancelled", "payment_failed")

    @event_handler("payments", "payment_refunded")
    def note_refund(self, payment):
        with self.db.get_session() as session:
            reservation = session.get(Reservation, payment["reservation_id"])
            if reservation is not None:
                reservation.refunded = True

    # eager: a restarted instance sweeps at once, so restarts never postpone an expiry
    @timer(interval=SWEEP_SECONDS, eager=True)
    def expire_holds(self):
        """Holds past their expiry give their rooms back, unless a payment for them
        went through after all, or may still: payments first settles with the bank
        any outcome it does not know, and a payment still being charged, or whose
        outcome the bank cannot tell yet, keeps the hold until a later sweep finds
        it concluded. Safe with several instances sweeping at once."""
        with self.db.get_session() as session:
            due = holds.expired_holds(session, holds.utcnow())
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

    def _place_hold(self, user_id, request, fingerprint, hotel, room):
        now = holds.utcnow()
        stay_nights = holds.nights(request["check_in"], request["check_out"])
        nightly = to_minor(room["nightly_price"]["amount"])
        with self.db.get_session() as session:
            holds.take_rooms(session, hotel["id"], room["code"], stay_nights, room["room_count"])
            reservation = Reservation(
                id=holds.new_reference(), user_id=user_id, idempotency_key=request["idempotency_key"],
                request_hash=fingerprint, hotel_id=hotel["id"], hotel_name=hotel["name"],
                hotel_address=hotel["address"], room_type=room["code"], room_name=room["name"],
                check_in=request["check_in"], check_out=request["check_out"], guests=request["guests"],
                rooms=1, nightly_price_minor=nightly, total_minor=nightly * len(stay_nights),
                currency=room["nightly_price"]["currency"], status="held",
                expires_at=now + timedelta(seconds=int(self.config.get("HOLD_SECONDS", HOLD_SECONDS))),
                created_at=now, updated_at=now, refunded=False,
            )
            session.add(reservation)
            session.flush()
            self._announce(session, "reservation_held", reservation)
            return ReservationSchema().dump(reservation)

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
                moved = holds.move(session, reservation_id, "confirmed", reason="paid", payment_id=payment_id)
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
    """What the booking_confirmation template needs, from a reservation and its guest."""
    total = Decimal(reservation["total"]["amount"])
    return {
        "reference": reservation["id"], "guest_name": guest["full_name"], "guest_email": guest["email"],
        "hotel_name": reservation["hotel_name"], "hotel_address": reservation["hotel_address"],
        "room_name": reservation["room_name"], "guests": reservation["guests"],
        "check_in": reservation["check_in"], "check_out": reservation["check_out"],
        "nightly_price": reservation["nightly_price"]["amount"],
        "taxes": str((total - total / (1 + VAT_RATE)).quantize(Decimal("0.01"))),
        "total": str(total), "currency": reservation["total"]["currency"],
    }


def pdf_file(reservation_id, pdf):
    return {"filename": f"confirmation-{reservation_id}.pdf", "content_type": "application/pdf",
            "content_base64": base64.b64encode(pdf).decode(), "sha256": hashlib.sha256(pdf).hexdigest(),
            "size": len(pdf)}
