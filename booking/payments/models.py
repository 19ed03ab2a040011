from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Payment(Base):
    """One attempt to pay a reservation. Of the card, only its brand and last four
    digits are kept: never the number, never the CVC."""

    __tablename__ = "payments"

    # also the Idempotency-Key of the bank charge, so a retry never charges twice
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(140), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[str] = mapped_column(String(12), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    # "booking" (pays a hold), or "change-<change id>" (the difference of a change)
    purpose: Mapped[str] = mapped_column(String(60), default="booking")
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    # pending -> succeeded | failed | unknown (settled later) ; succeeded -> refunded
    status: Mapped[str] = mapped_column(String(20), index=True)
    failure_code: Mapped[str | None] = mapped_column(String(40))
    bank_charge_id: Mapped[str | None] = mapped_column(String(60))
    bank_refund_id: Mapped[str | None] = mapped_column(String(60))
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    # a worker claims the receipt, then marks it sent; a claim older than the
    # lease was left by a worker that died, and may be taken over
    receipt_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Refund(Base):
    """Money given back from a payment. A refund the reservation granted (its
    policy's refund of a cancellation, a cheaper change) is `granted`; a payment
    that arrived too late or twice is `returned` whole. Its id is also the bank's
    Idempotency-Key, so a retried refund never pays out twice."""

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), index=True)
    reservation_id: Mapped[str] = mapped_column(String(12), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    bank_refund_id: Mapped[str | None] = mapped_column(String(60))
    # what it was for, for its credit note: "Hotel Limmat: cancellation of BK7F3K9QX2"
    hotel_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(300))
    # its credit note, kept until e-mailed (as receipts are)
    note_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
