"""What happens to a payment when the bank answers: plain functions of a session."""
import secrets

from sqlalchemy import func, select, update

from booking.kit.fingerprints import fingerprint
from booking.kit.times import as_utc, utcnow  # noqa: F401 (what the service uses)
from booking.payments.models import Payment, Refund

FINAL = {"succeeded", "failed", "refunded"}


def new_payment_id():
    return "pay_" + secrets.token_urlsafe(18)


def request_hash(reservation_id, summary):
    """A fingerprint of the request that holds no card data: the last four digits,
    expiry and holder (a `card_summary`) are enough to tell two requests apart."""
    fields = {"reservation": reservation_id, "last4": summary["last4"],
              "exp": [summary["exp_month"], summary["exp_year"]], "holder": summary["holder"]}
    return fingerprint(fields)


def record_outcome(session, payment_id, charge):
    """Apply the bank's answer (a `bank.Charge`) once. Returns the payment if this
    call changed it, None if it had an outcome already (a replay)."""
    status = "succeeded" if charge.status == "succeeded" else "failed"
    changed = session.execute(
        update(Payment)
        .where(Payment.id == payment_id, Payment.status.in_(("pending", "unknown")))
        .values(status=status, bank_charge_id=charge.charge_id, failure_code=charge.decline_code,
                updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    payment = session.get(Payment, payment_id)
    session.refresh(payment)
    return payment if changed else None


# the failure code of a payment whose card the bank refused at the charge ("refused:<why>")
REFUSED = "refused:"


def record_refusal(session, payment_id, why):
    """The bank refused the card itself: the payment failed, and nothing is announced
    (a refusal is not a decline: the hold stays for another card)."""
    session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == "pending")
                    .values(status="failed", failure_code=(REFUSED + why)[:40], updated_at=utcnow()))


def refused_card(failure_code):
    """Why the bank refused the card, if that is how the payment failed; else None."""
    if failure_code and failure_code.startswith(REFUSED):
        return failure_code.removeprefix(REFUSED)
    return None


def mark_unknown(session, payment_id):
    session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == "pending")
                    .values(status="unknown", updated_at=utcnow()))


def plan_grant(session, reservation_id, granted, hotel_name, description):
    """Plan the refunds that bring what was granted of a reservation up to `granted`
    in all, from its payments, oldest first: the ids of the refunds now due. The
    payments are locked meanwhile (PostgreSQL; SQLite has one writer), so two
    events planning at once cannot both pay out the same amount."""
    payments = list(session.scalars(select(Payment).where(
        Payment.reservation_id == reservation_id, Payment.status == "succeeded")
        .order_by(Payment.created_at).with_for_update()))
    planned = session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.reservation_id == reservation_id, Refund.kind == "granted"))
    owed = granted - planned
    for payment in payments:
        available = payment.amount_minor - _planned_of(session, payment.id)
        if owed <= 0 or available <= 0:
            continue
        amount = min(owed, available)
        _plan(session, f"grant-{granted}-{payment.id}", payment, amount, "granted", hotel_name, description)
        owed -= amount
    return _unmade(session, reservation_id)


def plan_return(session, payment_id):
    """Plan giving a payment back whole (it came too late, or twice): the refunds due."""
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    available = payment.amount_minor - _planned_of(session, payment_id) if payment.status == "succeeded" else 0
    if available > 0:
        _plan(session, f"refund-{payment_id}", payment, available, "returned")
    return _unmade(session, payment.reservation_id)


def _planned_of(session, payment_id):
    return session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.payment_id == payment_id))


def _plan(session, refund_id, payment, amount, kind, hotel_name=None, description=None):
    if session.get(Refund, refund_id) is not None:
        return
    session.add(Refund(id=refund_id, payment_id=payment.id, reservation_id=payment.reservation_id, kind=kind,
                       amount_minor=amount, currency=payment.currency, hotel_name=hotel_name,
                       description=description, created_at=utcnow()))
    session.flush()


def _unmade(session, reservation_id):
    """The refunds of a reservation planned and not yet made by the bank."""
    return list(session.scalars(select(Refund.id).where(Refund.reservation_id == reservation_id,
                                                        Refund.bank_refund_id.is_(None)).order_by(Refund.created_at)))


def record_refund(session, refund_id, bank_refund_id):
    """The bank made a planned refund: add it to its payment (refunded once it is all
    given back). Returns the payment, or None if it was recorded already."""
    refund = session.get(Refund, refund_id)
    made = session.execute(update(Refund).where(Refund.id == refund_id, Refund.bank_refund_id.is_(None))
                           .values(bank_refund_id=bank_refund_id)).rowcount
    if not made:
        return None
    session.execute(update(Payment).where(Payment.id == refund.payment_id).values(
        refunded_minor=Payment.refunded_minor + refund.amount_minor, bank_refund_id=bank_refund_id,
        updated_at=utcnow()))
    session.execute(update(Payment).where(Payment.id == refund.payment_id,
                                          Payment.refunded_minor >= Payment.amount_minor)
                    .values(status="refunded"))
    payment = session.get(Payment, refund.payment_id)
    session.refresh(payment)
    return payment
