from datetime import datetime

from sqlalchemy import DateTime, Integer, String
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
    welcome_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SentEmail(Base):
    """A message sent once for an event (e.g. "confirmation:BK7F3K9QX2"), so that a
    redelivered event sends nothing more."""

    __tablename__ = "sent_emails"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
