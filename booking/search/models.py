from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Hotel(Base):
    __tablename__ = "hotels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(100))
    # the city folded to lower case without accents: "zurich" finds "Zürich"
    city_key: Mapped[str] = mapped_column(String(100), index=True)
    country: Mapped[str] = mapped_column(String(100))
    stars: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    amenities: Mapped[list] = mapped_column(JSON)

    room_types: Mapped[list["RoomType"]] = relationship(
        back_populates="hotel", order_by="RoomType.price_minor", cascade="all, delete-orphan"
    )


class RoomType(Base):
    __tablename__ = "room_types"
    __table_args__ = (UniqueConstraint("hotel_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    max_guests: Mapped[int] = mapped_column(Integer)
    # how many rooms of this type the hotel has
    room_count: Mapped[int] = mapped_column(Integer)
    # nightly price in minor units (cents) of `currency`
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))

    hotel: Mapped[Hotel] = relationship(back_populates="room_types")


class HeldStay(Base):
    """A reservation as search knows it (from reservations' events): enough to
    count the rooms it takes, and whether it still takes them."""

    __tablename__ = "held_stays"

    reservation_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    check_in: Mapped[date] = mapped_column(Date)
    check_out: Mapped[date] = mapped_column(Date)
    rooms: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)


class BookedNight(Base):
    """Rooms of a type taken on a night: the availability projection that the
    date filter reads."""

    __tablename__ = "booked_nights"
    __table_args__ = (UniqueConstraint("hotel_id", "room_type", "night"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    night: Mapped[date] = mapped_column(Date)
    taken: Mapped[int] = mapped_column(Integer)
