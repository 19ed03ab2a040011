from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RoomNight(Base):
    """How many rooms of a type a hotel has on a night, and how many are taken.
    `held <= capacity` is kept by one conditional UPDATE per hold."""

    __tablename__ = "room_nights"
    __table_args__ = (UniqueConstraint("hotel_id", "room_type", "night"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    night: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    # the reference guests see, e.g. "BK7F3K9QX2"
    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    hotel_id: Mapped[int] = mapped_column(Integer)
    hotel_name: Mapped[str] = mapped_column(String(200))
    hotel_address: Mapped[str] = mapped_column(String(300))
    room_type: Mapped[str] = mapped_column(String(40))
    room_name: Mapped[str] = mapped_column(String(100))
    check_in: Mapped[date] = mapped_column(Date)
    check_out: Mapped[date] = mapped_column(Date)
    guests: Mapped[int] = mapped_column(Integer)
    rooms: Mapped[int] = mapped_column(Integer)
    nightly_price_minor: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # held -> confirmed -> cancelled; held -> expired; held -> cancelled
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    refunded: Mapped[bool] = mapped_column(default=False)
    confirmation_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
