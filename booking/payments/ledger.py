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


def granted_so_far(session, reservation_id):
    """What was refunded of a reservation because it granted it."""
    return session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.reservation_id == reservation_id, Refund.kind == "granted"))


def record_refund(session, refund_id, payment_id, amount, kind, bank_refund_id, hotel_name=None, description=None):
    """Record a refund the bank made, and add it to its payment (refunded once it is
    all given back). A second record of the same refund fails on its key."""
    payment = session.get(Payment, payment_id)
    session.add(Refund(id=refund_id, payment_id=payment_id, reservation_id=payment.reservation_id, kind=kind,
                       amount_minor=amount, currency=payment.currency, bank_refund_id=bank_refund_id,
                       hotel_name=hotel_name, description=description, created_at=utcnow()))
    session.flush()
    session.execute(update(Payment).where(Payment.id == payment_id).values(
        refunded_minor=Payment.refunded_minor + amount, bank_refund_id=bank_refund_id, updated_at=utcnow()))
    session.execute(update(Payment).where(Payment.id == payment_id, Payment.refunded_minor >= Payment.amount_minor)
                    .values(status="refunded"))
    session.refresh(payment)
    return payment
