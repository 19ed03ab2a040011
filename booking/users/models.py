from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # normalised (trimmed, lower case): unique
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # argon2id, with its parameters and salt; never the password
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # guest | manager (runs hotels: search keeps which) | operator (runs the platform)
    role: Mapped[str] = mapped_column(String(20), default="guest")
    welcome_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SentEmail(Base):
    """A message to send once for an event (key "confirmation:BK7F3K9QX2"), kept
    until it is sent: a worker claims it, then marks it sent; a claim older than
    the lease was left by a worker that died, and the sweep sends it."""

    __tablename__ = "sent_emails"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(20))  # "welcome", "confirmation", "changed", "cancelled"
    user_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[dict | None] = mapped_column(JSON)  # what the message is made of
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
