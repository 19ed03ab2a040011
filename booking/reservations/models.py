from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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


class RoomCapacity(Base):
    """How many rooms of a type a hotel sells, once its manager has changed it: it
    then decides every night's `capacity` (a night made later takes it too), rather
    than the count in the quote of the hold that first touched the night."""

    __tablename__ = "room_capacities"
    __table_args__ = (UniqueConstraint("hotel_id", "room_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    rooms: Mapped[int] = mapped_column(Integer)


class Reservation(Base):
    __tablename__ = "reservations"
    # a hotel's reservations by arrival: its manager's list, its monthly report
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"), Index("ix_reservations_hotel_check_in",
                                                                            "hotel_id", "check_in"))

    # the reference guests see, e.g. "BK7F3K9QX2"
    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    hotel_id: Mapped[int] = mapped_column(Integer)
    hotel_name: Mapped[str] = mapped_column(String(200))
    hotel_address: Mapped[str] = mapped_column(String(300))
    # the first room's type and name ("Double Room + Family Room" for several)
    room_type: Mapped[str] = mapped_column(String(40))
    room_name: Mapped[str] = mapped_column(String(100))
    check_in: Mapped[date] = mapped_column(Date)
    check_out: Mapped[date] = mapped_column(Date)
    # everyone, adults and children, in every room
    guests: Mapped[int] = mapped_column(Integer)
    # how many rooms are booked now
    rooms: Mapped[int] = mapped_column(Integer)
    # the first room's average price a night
    nightly_price_minor: Mapped[int] = mapped_column(Integer)
    # what the rooms booked now cost, city tax included
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    city_tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    # penalties kept for cancelled rooms, and refunds granted (what payments is to give back)
    kept_minor: Mapped[int] = mapped_column(Integer, default=0)
    refund_minor: Mapped[int] = mapped_column(Integer, default=0)
    # the quote the price and policy were locked from (search's `quote`, as it answered)
    quote: Mapped[dict | None] = mapped_column(JSON)
    # the hotel's clock, for the policy's deadline
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    check_in_time: Mapped[str] = mapped_column(String(5), default="15:00")
    # one more with every change of what it holds: search applies only newer versions
    version: Mapped[int] = mapped_column(Integer, default=1)
    # the change under way, if any: one at a time, and no cancelling meanwhile
    changing: Mapped[str | None] = mapped_column(String(40))
    # held -> confirmed -> cancelled; held -> expired; held -> cancelled;
    # confirmed -> checked_in -> checked_out; confirmed -> no_show (the hotel says)
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[str | None] = mapped_column(String(40))
    # why the last card tried for a hold was refused (the hold stays for another card)
    last_payment_failure: Mapped[str | None] = mapped_column(String(40))
    refunded: Mapped[bool] = mapped_column(default=False)
    confirmation_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    lines: Mapped[list["BookedRoom"]] = relationship(order_by="BookedRoom.line", lazy="selectin",
                                                     cascade="all, delete-orphan", back_populates="reservation")

    @property
    def active_lines(self):
        return [line for line in self.lines if line.status == "active"]


class BookedRoom(Base):
    """One room of a reservation, priced and governed as quoted when it was held."""

    __tablename__ = "booked_rooms"
    __table_args__ = (UniqueConstraint("reservation_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)
    # 1, 2, ... in the order booked; a change adds new lines
    line: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    room_name: Mapped[str] = mapped_column(String(100))
    rate_plan: Mapped[str] = mapped_column(String(40))
    rate_plan_name: Mapped[str] = mapped_column(String(100))
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[list] = mapped_column(JSON)
    check_in: Mapped[date] = mapped_column(Date)
    check_out: Mapped[date] = mapped_column(Date)
    # [{"date": "2027-01-11", "price_minor": 30690}]
    nights: Mapped[list] = mapped_column(JSON)
    price_minor: Mapped[int] = mapped_column(Integer)
    city_tax_minor: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(Integer)
    # booking/kit/policies.py: {free_until_hours, penalty, penalty_percent}
    policy: Mapped[dict] = mapped_column(JSON)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    penalty_minor: Mapped[int] = mapped_column(Integer)
    # active -> cancelled (the guest cancelled it) | changed (a change replaced it)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # what cancelling it refunded and kept
    refund_minor: Mapped[int | None] = mapped_column(Integer)
    kept_minor: Mapped[int | None] = mapped_column(Integer)

    reservation: Mapped[Reservation] = relationship(back_populates="lines")

    @property
    def currency(self):
        return self.reservation.currency

    @property
    def timezone(self):
        return self.reservation.timezone


class BookingChange(Base):
    """A change of dates or rooms under way or done: the nights it took before
    paying the difference, and those it gives back once paid. Kept for its
    Idempotency-Key: the same key gets the same answer."""

    __tablename__ = "booking_changes"
    __table_args__ = (UniqueConstraint("reservation_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    # pending -> done | failed
    status: Mapped[str] = mapped_column(String(20), index=True)
    failure: Mapped[dict | None] = mapped_column(JSON)
    # [{room_type, night, count}] taken for the new stay, and to give back from the old
    taken: Mapped[list] = mapped_column(JSON)
    released: Mapped[list] = mapped_column(JSON)
    quote: Mapped[dict] = mapped_column(JSON)
    # new total minus old total: charged if positive, refunded if negative
    difference_minor: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
