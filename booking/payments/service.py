import base64
import logging
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from booking.kit.bank import Bank, BankTimedOut, Charge
from booking.kit.database import Database
from booking.kit.errors import BookingError, IdempotencyKeyReused
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.mail import KeptMail, Mailer, flag
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import UserIdRequest, load, money, to_minor
from booking.kit.times import as_utc
from booking.payments import emails, ledger
from booking.payments.exceptions import (
    BankUnavailable,
    CardRefused,
    EmailNotVerified,
    NotPayable,
    PaymentDeclined,
    PaymentInProgress,
    PaymentNotFound,
    PaymentPending,
)
from booking.payments.models import Base, Payment, Refund
from booking.payments.schemas import (
    DifferenceRequest,
    PaymentEvent,
    PaymentIdRequest,
    PaymentSchema,
    PayRequest,
    RefundSchema,
    TokenPayRequest,
    card_summary,
)

log = logging.getLogger(__name__)

# how often payments whose worker died are looked for and settled with the bank,
# and receipts left unsent are sent
SWEEP_SECONDS = 15
# a paid (or refunded) payment's receipt, kept until it is sent
RECEIPTS = KeptMail(Payment.id, Payment.receipt_sent_at, Payment.receipt_claimed_at,
                    Payment.status.in_(("succeeded", "refunded")))
# a granted refund's credit note, kept until it is sent
CREDIT_NOTES = KeptMail(Refund.id, Refund.note_sent_at, Refund.note_claimed_at, Refund.kind == "granted",
                        Refund.bank_refund_id.is_not(None))


class PaymentsService(Pingable):
    """Charges through the bank; never keeps a card number or a CVC."""

    name = "payments"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    caller = CallerIdentity()
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("payment_succeeded", "payment_failed", "payment_refunded")
    bank = Bank()
    mailer = Mailer()
    config = Config()
    reservations = ServiceRpc("reservations")
    users = ServiceRpc("users", as_service=True)
    reports = ServiceRpc("reports", as_service=True)

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("card",))
    def pay(self, reservation_id, card, idempotency_key):
        """Pay a held reservation of the caller's with a card.

        Takes reservation_id, card (either {number, exp_month, exp_year, cvc,
        holder}, or a bank token {token, brand, last4, exp_month, exp_year,
        holder} as the gateway sends, so that the number stops at the edge) and
        an idempotency_key (the same key gives the first answer again and never
        charges twice). Needs a user token (scope `bookings`). Returns the payment
        {id, status "succeeded", amount, card {brand, last4}, bank_reference} and
        emits payment_succeeded; a declined card raises PaymentDeclined (402) and
        emits payment_failed; the hold stays, for another card, until it expires.
        Raises NotPayable, PaymentInProgress, PaymentPending (the bank's answer is
        unknown and is being settled), IdempotencyKeyReused, ValidationFailed.
        """
        caller = self.caller.require("bookings")
        tokenized = isinstance(card, dict) and "token" in card
        request = load(TokenPayRequest() if tokenized else PayRequest(),
                       {"reservation_id": reservation_id, "card": card, "idempotency_key": idempotency_key})
        card, summary = request["card"], card_summary(request["card"])
        fingerprint = ledger.request_hash(request["reservation_id"], summary)
        key = f"{caller.user_id}:{request['idempotency_key']}"
        with self.db.get_session() as session:
            existing = session.scalar(select(Payment).where(Payment.idempotency_key == key))
            orphaned = existing is not None and existing.id in self._unsettled(session, Payment.id == existing.id)
            if existing is not None and not orphaned:
                return self._replay(existing, fingerprint)
            if orphaned and existing.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            orphan_id = existing.id if orphaned else None
        if orphan_id:  # the first attempt's worker died mid-charge: the bank knows how it ended
            return self._conclude(orphan_id, self._settle_with_bank(orphan_id))
        self._require_verified_email(caller)
        reservation = self.reservations.get(request["reservation_id"])  # the caller's, or NotFound
        if reservation["status"] != "held":
            with self.db.get_session() as session:
                # a twin with this key (the first try, whose answer was lost) may have
                # paid since we looked: the guest gets its answer, not "not payable"
                twin = session.scalar(select(Payment).where(Payment.idempotency_key == key))
                if twin is not None:
                    return self._replay(twin, fingerprint)
            raise NotPayable(details={"status": reservation["status"]})
        # the bank checks the card before anything is recorded, so a refused card
        # leaves nothing behind and the same key may be tried again
        source = card["token"] if tokenized else self.bank.tokenize(card)["id"]
        payment = self._start(caller.user_id, key, fingerprint, {
            "id": reservation["id"], "amount_minor": to_minor(reservation["total"]["amount"],
                                                              reservation["total"]["currency"]),
            "currency": reservation["total"]["currency"]}, summary)
        return self._charge(payment, source, reservation["id"], f"Booking {reservation['id']}")

    def _require_verified_email(self, caller):
        """With REQUIRE_VERIFIED_EMAIL, a new payment needs the guest's address verified:
        users says so now, so a link opened a moment ago counts at once (a replayed
        payment, above, is answered whatever)."""
        if flag(self.config.get("REQUIRE_VERIFIED_EMAIL", False)) and \
                not self.users.get(caller.user_id).get("email_verified"):
            raise EmailNotVerified()

    def _charge(self, payment, source, reference, description):
        """Charge a payment begun with `_start`, and conclude it with the bank's answer."""
        try:
            charge = self.bank.charge(
                amount_minor=payment["amount_minor"], currency=payment["currency"], source=source,
                reference=reference, description=description, idempotency_key=payment["id"])
        except BankUnavailable as unavailable:
            # unanswered, the request may still reach the bank after the look-up
            charge = self._settle_with_bank(payment["id"], unanswered=isinstance(unavailable, BankTimedOut))
        except CardRefused as refusal:
            # the bank refused the card itself (not a decline): nothing was charged, the
            # hold stays for another card, and a retry with this key gets the same answer
            with self.db.get_session() as session:
                ledger.record_refusal(session, payment["id"], refusal.details.get("card", "invalid"))
            raise
        return self._conclude(payment["id"], charge)

    @rpc(expected_exceptions=BookingError)
    def get(self, payment_id):
        """One payment of the caller's (or any, with scope `payments:read`)."""
        caller = self.caller.require()
        request = load(PaymentIdRequest(), {"payment_id": payment_id})
        with self.db.get_session() as session:
            payment = session.get(Payment, request["payment_id"])
            if payment is None or not self._may_see(caller, payment.user_id):
                raise PaymentNotFound(details={"payment_id": str(payment_id)})
            return PaymentSchema().dump(payment)

    @rpc(expected_exceptions=BookingError)
    def for_reservation(self, reservation_id):
        """The payments of a reservation, oldest first, after settling with the bank
        any whose outcome was unknown. For its owner, or scope `payments:read`."""
        caller = self.caller.require()
        with self.db.get_session() as session:
            unsettled = self._unsettled(session, Payment.reservation_id == reservation_id)
        self._settle(unsettled)
        with self.db.get_session() as session:
            payments = list(session.scalars(select(Payment).where(Payment.reservation_id == reservation_id)
                                            .order_by(Payment.created_at)))
            visible = [p for p in payments if self._may_see(caller, p.user_id)]
            return PaymentSchema(many=True).dump(visible)

    @rpc(expected_exceptions=BookingError)
    def guest_data(self, user_id):
        """Payments' part of a guest's data export: {payments, refunds}, oldest
        first; of a card, only its brand and last four digits (all that is kept).
        Needs scope `payments:read` (users)."""
        self.caller.require("payments:read")
        request = load(UserIdRequest(), {"user_id": user_id})
        with self.db.get_session() as session:
            payments = list(session.scalars(select(Payment).where(Payment.user_id == request["user_id"])
                                            .order_by(Payment.created_at)))
            refunds = session.scalars(select(Refund).where(Refund.payment_id.in_([p.id for p in payments]))
                                      .order_by(Refund.created_at))
            return {"payments": PaymentSchema(many=True).dump(payments),
                    "refunds": RefundSchema(many=True).dump(refunds)}

    @rpc(expected_exceptions=BookingError)
    def refund(self, payment_id):
        """Give a succeeded payment's money back (scope `payments:refund`, for
        reservations). Refunding again changes nothing."""
        self.caller.require("payments:refund")
        return self._refund(load(PaymentIdRequest(), {"payment_id": payment_id})["payment_id"])

    @rpc(expected_exceptions=BookingError, sensitive_arguments=("card",))
    def charge_difference(self, reservation_id, user_id, amount_minor, currency, card, idempotency_key):
        """Charge what a change of a booking costs more (scope `payments:charge`, for
        reservations, on behalf of the guest `user_id`), with a card token as `pay`
        takes it. The same idempotency_key gives the first answer again and never
        charges twice. Returns the payment (purpose "change-..."); raises as `pay`."""
        self.caller.require("payments:charge")
        request = load(DifferenceRequest(), {
            "reservation_id": reservation_id, "user_id": user_id, "amount_minor": amount_minor,
            "currency": currency, "card": card, "idempotency_key": idempotency_key})
        summary = card_summary(request["card"])
        fingerprint = ledger.request_hash(request["reservation_id"], summary)
        key = f"{request['user_id']}:{request['idempotency_key']}"
        with self.db.get_session() as session:
            existing = session.scalar(select(Payment).where(Payment.idempotency_key == key))
            if existing is not None:
                return self._replay(existing, fingerprint)
        payment = self._start(request["user_id"], key, fingerprint, {
            "id": request["reservation_id"], "amount_minor": request["amount_minor"],
            "currency": request["currency"]}, summary, purpose=request["idempotency_key"])
        return self._charge(payment, request["card"]["token"], request["reservation_id"],
                            f"Change of booking {request['reservation_id']}")

    @event_handler("reservations", "reservation_cancelled")
    def refund_cancelled(self, reservation):
        """A paid reservation was cancelled: refund what its policy gives back."""
        self._refund_granted(reservation)

    @event_handler("reservations", "reservation_no_show")
    def refund_no_show(self, reservation):
        """The guest did not come: refund what the policy does not keep."""
        self._refund_granted(reservation)

    @event_handler("reservations", "reservation_changed")
    def refund_changed(self, reservation):
        """A room cancelled, or a cheaper change: refund what was granted."""
        self._refund_granted(reservation)

    @event_handler("payments", "payment_succeeded")
    def send_receipt(self, event):
        """E-mail the receipt, once however often (and however concurrently) the
        event comes: the handler that claims it sends it."""
        self._send_receipt(event["payment_id"])

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep(self):
        """Settle with the bank the charges whose worker died or whose answer the bank
        lost, so that money taken always meets its booking (or its refund); send the
        receipts that a dead worker or a failed send left unsent."""
        with self.db.get_session() as session:
            unsettled = self._unsettled(session)
            unsent = list(session.scalars(select(Payment.id).where(RECEIPTS.due())))
            notes = list(session.scalars(select(Refund.id).where(CREDIT_NOTES.due())))
            unpaid = list(session.scalars(select(Refund.id).where(Refund.bank_refund_id.is_(None))))
        self._settle(unsettled)
        try:
            self._make_refunds(unpaid)  # planned, but the bank did not answer then
        except BookingError:
            log.warning("some refunds are still not made; the next sweep tries again")
        for send, key in [(self._send_receipt, payment_id) for payment_id in unsent] + [
                (self._send_credit_note, refund_id) for refund_id in notes]:
            try:
                send(key)
            except Exception:
                log.warning("the e-mail for %s is still not sent; the next sweep tries again", key)

    # -- internals -------------------------------------------------------------------

    def _send_receipt(self, payment_id):
        with self.db.get_session() as session:
            mine = RECEIPTS.claim(session, payment_id)
            payment = session.get(Payment, payment_id) if mine else None
            receipt, user_id = (PaymentSchema().dump(payment), payment.user_id) if payment else (None, None)
        if receipt is None:
            return
        try:
            guest = self.users.get(user_id)
            if not guest["deleted"]:  # a deleted account has no one to write to
                subject, text, html = emails.receipt(guest["full_name"], receipt)
                self.mailer.send(guest["email"], subject, text, html,
                                 attachments=self._receipt_pdf(guest, receipt), key=f"receipt-{payment_id}")
        except Exception:
            with self.db.get_session() as session:  # not sent: the next sweep tries again
                RECEIPTS.give_back(session, payment_id, mine)
            raise
        with self.db.get_session() as session:
            RECEIPTS.mark_sent(session, payment_id, mine)

    def _send_credit_note(self, refund_id):
        """E-mail a granted refund's credit note (a PDF from reports), once."""
        with self.db.get_session() as session:
            mine = CREDIT_NOTES.claim(session, refund_id)
            refund = session.get(Refund, refund_id) if mine else None
            payment = session.get(Payment, refund.payment_id) if refund else None
            note = (credit_note_data(refund, payment), payment.user_id) if refund else None
        if note is None:
            return
        data, user_id = note
        try:
            guest = self.users.get(user_id)
            if not guest["deleted"]:  # a deleted account has no one to write to
                data.update(guest_name=guest["full_name"], guest_email=guest["email"])
                document = self.reports.render("credit_note", data)
                subject, text, html = emails.credit_note(guest["full_name"], data)
                self.mailer.send(guest["email"], subject, text, html, key=f"credit-note-{refund_id}", attachments=[
                    (document["filename"], base64.b64decode(document["content_base64"]), "application/pdf")])
        except Exception:
            with self.db.get_session() as session:
                CREDIT_NOTES.give_back(session, refund_id, mine)
            raise
        with self.db.get_session() as session:
            CREDIT_NOTES.mark_sent(session, refund_id, mine)

    def _unsettled(self, session, *criteria):
        """The ids of payments whose outcome nobody is finding out: unknown ones, and
        pending ones older than any live worker takes (two bank timeouts and a margin)."""
        abandoned = ledger.utcnow() - self._landing_window()
        return list(session.scalars(select(Payment.id).where(
            or_(Payment.status == "unknown", and_(Payment.status == "pending", Payment.updated_at < abandoned)),
            *criteria)))

    def _settle(self, payment_ids):
        for payment_id in payment_ids:
            try:
                self._conclude(payment_id, self._settle_with_bank(payment_id))
            except BookingError:
                pass  # declined (now recorded), or still unknown: the next look tries again

    def _receipt_pdf(self, guest, receipt):
        """The receipt as a PDF to attach; without it the e-mail still goes."""
        try:
            document = self.reports.render("payment_receipt", {
                "reference": receipt["reservation_id"], "payment_id": receipt["id"],
                "guest_name": guest["full_name"], "description": (
                    f"Booking {receipt['reservation_id']}" if receipt["purpose"] == "booking"
                    else f"Change of booking {receipt['reservation_id']}"),
                "amount": receipt["amount"]["amount"], "currency": receipt["amount"]["currency"],
                "card_brand": receipt["card"]["brand"], "card_last4": receipt["card"]["last4"],
                "bank_reference": receipt["bank_reference"], "paid_at": receipt["created_at"]})
        except BookingError:
            log.warning("sending the receipt of %s without its PDF", receipt["id"])
            return []
        return [(document["filename"], base64.b64decode(document["content_base64"]), "application/pdf")]

    def _start(self, user_id, key, fingerprint, charge, summary, purpose="booking"):
        """Record a payment as pending before its charge: {id, amount_minor, currency}."""
        now = ledger.utcnow()
        try:
            with self.db.get_session() as session:
                payment = Payment(
                    id=ledger.new_payment_id(), idempotency_key=key, request_hash=fingerprint,
                    reservation_id=charge["id"], user_id=user_id, purpose=purpose,
                    amount_minor=charge["amount_minor"], currency=charge["currency"], card_brand=summary["brand"],
                    card_last4=summary["last4"], status="pending", refunded_minor=0,
                    created_at=now, updated_at=now)
                session.add(payment)
                session.flush()
                return {"id": payment.id, "amount_minor": payment.amount_minor, "currency": payment.currency}
        except IntegrityError:
            raise PaymentInProgress() from None  # a twin request with the same key got there first

    def _settle_with_bank(self, payment_id, unanswered=True):
        """The outcome of a charge whose answer was lost: looked up under its key.
        No charge found is not yet a decline while an unanswered request may still
        land (one that timed out can reach the bank after the look-up): the outcome
        stays unknown, and a later look (the sweep's) decides. An answered failure
        (a 5xx) is final: nothing more will land."""
        try:
            charge = self.bank.find_charge(payment_id)
        except BankUnavailable:
            charge = None
            may_still_land = True
        else:
            may_still_land = charge is None and unanswered and self._attempted_within(
                payment_id, self._landing_window())
        if may_still_land:
            with self.db.get_session() as session:
                ledger.mark_unknown(session, payment_id)
            raise PaymentPending()
        return charge or Charge("declined", None, "not_charged")

    def _landing_window(self):
        """How long after a charge request it may still reach the bank: what a live
        worker waits (two bank timeouts) and a margin."""
        return timedelta(seconds=2 * float(self.config.get("BANK_TIMEOUT", 10)) + 5)

    def _attempted_within(self, payment_id, window):
        with self.db.get_session() as session:
            created = session.scalar(select(Payment.created_at).where(Payment.id == payment_id))
        return created is not None and ledger.as_utc(created) > ledger.utcnow() - window

    def _conclude(self, payment_id, charge):
        with self.db.get_session() as session:
            payment = ledger.record_outcome(session, payment_id, charge)
            if payment is not None:
                self._announce(session, f"payment_{payment.status}", payment)
            answer = PaymentSchema().dump(session.get(Payment, payment_id))
        if answer["status"] != "succeeded":
            raise PaymentDeclined.because(answer["failure_code"])
        return answer

    def _replay(self, payment, fingerprint):
        if payment.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        if payment.status == "pending":
            raise PaymentInProgress()
        if payment.status == "unknown":
            raise PaymentPending()
        if payment.status == "failed" and ledger.refused_card(payment.failure_code):
            raise CardRefused(details={"card": ledger.refused_card(payment.failure_code)})
        if payment.status == "failed":
            raise PaymentDeclined.because(payment.failure_code)
        return PaymentSchema().dump(payment)

    def _refund(self, payment_id):
        """Give a payment's money back whole (it came too late, or twice)."""
        with self.db.get_session() as session:
            payment = session.get(Payment, payment_id)
            if payment is None:
                raise PaymentNotFound(details={"payment_id": payment_id})
            due = ledger.plan_return(session, payment_id)
        self._make_refunds(due)
        with self.db.get_session() as session:
            return PaymentSchema().dump(session.get(Payment, payment_id))

    def _refund_granted(self, reservation):
        """Bring what was refunded of a reservation up to what it has granted in all
        (`refund_minor` of its event), from its payments, oldest first. A replayed
        or older event asks for no more than was refunded already: nothing moves.
        An event from before partial refunds (no `refund_minor`) refunds its payment whole."""
        if "refund_minor" not in reservation:
            if reservation.get("payment_id"):
                self._refund(reservation["payment_id"])
            return
        why = "cancellation" if reservation.get("status") == "cancelled" else "change"
        with self.db.get_session() as session:
            due = ledger.plan_grant(session, reservation["reservation_id"], reservation["refund_minor"],
                                    reservation.get("hotel_name"),
                                    f"Refund on the {why} of booking {reservation['reservation_id']}")
        self._make_refunds(due)

    def _make_refunds(self, refund_ids):
        """Make through the bank the refunds planned (each under its own key, so a
        retry never pays out twice), record each once, and send the credit notes of
        granted ones."""
        for refund_id in refund_ids:
            with self.db.get_session() as session:
                refund = session.get(Refund, refund_id)
                charge_id = session.scalar(select(Payment.bank_charge_id).where(Payment.id == refund.payment_id))
                amount, granted = refund.amount_minor, refund.kind == "granted"
            answer = self.bank.refund(charge_id=charge_id, idempotency_key=refund_id, amount_minor=amount)
            with self.db.get_session() as session:
                payment = ledger.record_refund(session, refund_id, answer["id"])
                if payment is not None:
                    self._announce(session, "payment_refunded", payment)
            if granted:
                try:
                    self._send_credit_note(refund_id)
                except Exception:
                    log.warning("the credit note of %s is not sent yet; the sweep sends it", refund_id)

    def _announce(self, session, event_type, payment):
        """Record the event in the transaction of the change it tells of; a
        reservation's payment events go out in order."""
        self.outbox.add(session, event_type, PaymentEvent().dump(payment), aggregate=payment.reservation_id)

    @staticmethod
    def _may_see(caller, owner_id):
        return caller.user_id == owner_id or "payments:read" in caller.scopes


def credit_note_data(refund, payment):
    """What the credit_note template needs of a refund and its payment (the guest's name is added)."""
    return {
        "reference": payment.reservation_id, "refund_id": refund.id, "hotel_name": refund.hotel_name or "Booking",
        "description": refund.description or f"Refund of payment {payment.id}",
        "paid": money(payment.amount_minor, payment.currency)["amount"],
        "refund": money(refund.amount_minor, refund.currency)["amount"], "currency": refund.currency,
        "refunded_at": as_utc(refund.created_at).isoformat(), "card_brand": payment.card_brand,
        "card_last4": payment.card_last4}
