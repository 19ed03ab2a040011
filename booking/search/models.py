from datetime import date

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Hotel(Base):
    __tablename__ = "hotels"
    # a city's hotels in id order, from the index alone (migration 0006)
    __table_args__ = (Index("ix_hotels_city_key_id", "city_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(100))
    # the city folded to lower case without accents: "zurich" finds "Zürich"
    city_key: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(100))
    stars: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    amenities: Mapped[list] = mapped_column(JSON)
    # IANA zone: cancellation deadlines are the hotel's clock
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    check_in_time: Mapped[str] = mapped_column(String(5), default="15:00")
    check_out_time: Mapped[str] = mapped_column(String(5), default="11:00")
    # every price of the hotel is in its currency
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # VAT included in prices, in basis points (1000 = 10%)
    vat_basis_points: Mapped[int] = mapped_column(Integer, default=1000)
    # added to the price, per adult and night (minor units); 0 where there is none
    city_tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    # the hotel's own words on its policies (pets, parking, ...), as its manager writes them
    policies_text: Mapped[str | None] = mapped_column(Text)
    # one more with every change its manager makes (`catalogue.mark_changed`): a
    # search process's copy of the hotel that still has this version is kept
    catalogue_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    room_types: Mapped[list["RoomType"]] = relationship(
        back_populates="hotel", order_by="RoomType.price_minor", cascade="all, delete-orphan"
    )
    rate_rules: Mapped[list["RateRule"]] = relationship(order_by="RateRule.id", cascade="all, delete-orphan")


class RoomType(Base):
    __tablename__ = "room_types"
    __table_args__ = (UniqueConstraint("hotel_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    # adults the room sleeps (the API's `max_guests` and `max_adults`)
    max_guests: Mapped[int] = mapped_column(Integer)
    # adults and children together
    max_occupancy: Mapped[int | None] = mapped_column(Integer)
    # how many rooms of this type the hotel has
    room_count: Mapped[int] = mapped_column(Integer)
    # the flexible plan's base nightly price in minor units of `currency`
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))

    hotel: Mapped[Hotel] = relationship(back_populates="room_types")
    rate_plans: Mapped[list["RatePlan"]] = relationship(
        order_by="RatePlan.price_minor.desc()", cascade="all, delete-orphan")

    @property
    def occupancy(self):
        return self.max_occupancy or self.max_guests


class RatePlan(Base):
    """What a room type is sold at: a base nightly price (the calendar's rules adjust
    it) and a cancellation policy (booking/kit/policies.py)."""

    __tablename__ = "rate_plans"
    __table_args__ = (UniqueConstraint("room_type_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_type_id: Mapped[int] = mapped_column(ForeignKey("room_types.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    price_minor: Mapped[int] = mapped_column(Integer)
    # None: non-refundable
    free_until_hours: Mapped[int | None] = mapped_column(Integer)
    # first_night | percent | all | none
    penalty: Mapped[str] = mapped_column(String(20))
    penalty_percent: Mapped[int | None] = mapped_column(Integer)

    @property
    def policy(self):
        return {"free_until_hours": self.free_until_hours, "penalty": self.penalty,
                "penalty_percent": self.penalty_percent}


class RateRule(Base):
    """A rule of a hotel's rate calendar over a range of nights (both ends included;
    with `every_year`, the same days each year): a price adjustment and/or a
    restriction. Empty `room_type` or `rate_plan` means all of them; `weekdays`
    ("45" = Friday and Saturday, Monday is 0) narrows it to those nights."""

    __tablename__ = "rate_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    room_type: Mapped[str | None] = mapped_column(String(40))
    rate_plan: Mapped[str | None] = mapped_column(String(40))
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date] = mapped_column(Date)
    every_year: Mapped[bool] = mapped_column(Boolean, default=False)
    weekdays: Mapped[str | None] = mapped_column(String(7))
    # applied in id order: a set price, then a percentage, then an amount
    price_minor: Mapped[int | None] = mapped_column(Integer)
    adjust_percent: Mapped[int | None] = mapped_column(Integer)
    adjust_minor: Mapped[int | None] = mapped_column(Integer)
    # closed (True), opened (False) or left as other rules say (None); of the rules
    # covering a night, the last (in id order) that says decides; so for the others
    closed: Mapped[bool | None] = mapped_column(Boolean)
    closed_to_arrival: Mapped[bool | None] = mapped_column(Boolean)
    min_stay: Mapped[int | None] = mapped_column(Integer)
    max_stay: Mapped[int | None] = mapped_column(Integer)


class HeldStay(Base):
    """A reservation as search knows it (from reservations' events): enough to
    count the rooms it takes, and whether it still takes them. The first room's
    type and dates also stay in the columns that came before `holding`."""

    __tablename__ = "held_stays"

    reservation_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    room_type: Mapped[str] = mapped_column(String(40))
    check_in: Mapped[date] = mapped_column(Date)
    check_out: Mapped[date] = mapped_column(Date)
    rooms: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    # the reservation's version that `holding` is from: an older event changes nothing
    version: Mapped[int] = mapped_column(Integer, default=1)
    # [{room_type, check_in, check_out, count}]: what it takes now ([] when ended)
    holding: Mapped[list] = mapped_column(JSON, default=list)


class BookedNight(Base):
    """Rooms of a type taken on a night: the availability projection that the
    date filter reads."""

    __tablename__ = "booked_nights"
    # by night too, for the rooms taken everywhere over a stay (migration 0006); by city
    # and night, for the rooms taken in a city (0007), from the index alone
    __table_args__ = (UniqueConstraint("hotel_id", "room_type", "night"),
                      Index("ix_booked_nights_night", "night", "hotel_id", "room_type", "taken"),
                      Index("ix_booked_nights_city_night", "city_key", "night", "hotel_id", "room_type", "taken"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(Integer)
    # the hotel's `city_key` (a hotel's city never changes), so that a city's search
    # reads its own rows only
    city_key: Mapped[str] = mapped_column(String(100), server_default="")
    room_type: Mapped[str] = mapped_column(String(40))
    night: Mapped[date] = mapped_column(Date)
    taken: Mapped[int] = mapped_column(Integer)


class HotelManager(Base):
    """Who manages which hotel: search owns the hotels, so it keeps this too. A
    manager's token has scope `partner`; an operator (scope `admin`) manages all."""

    __tablename__ = "hotel_managers"
    __table_args__ = (UniqueConstraint("hotel_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotel_id: Mapped[int] = mapped_column(ForeignKey("hotels.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
