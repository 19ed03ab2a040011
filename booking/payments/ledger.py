"""What happens to a payment when the bank answers: plain functions of a session."""
import hashlib
import json
import secrets
from datetime import UTC, datetime

from sqlalchemy import update

from booking.payments.models import Payment

FINAL = {"succeeded", "failed", "refunded"}


def utcnow():
    return datetime.now(UTC)


def new_payment_id():
    return "pay_" + secrets.token_urlsafe(18)


def request_hash(reservation_id, summary):
    """A fingerprint of the request that holds no card data: the last four digits,
    expiry and holder (a `card_summary`) are enough to tell two requests apart."""
    fields = {"reservation": reservation_id, "last4": summary["last4"],
              "exp": [summary["exp_month"], summary["exp_year"]], "holder": summary["holder"]}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


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


def mark_unknown(session, payment_id):
    session.execute(update(Payment).where(Payment.id == payment_id, Payment.status == "pending")
                    .values(status="unknown", updated_at=utcnow()))
