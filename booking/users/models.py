from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, LargeBinary, String
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
    # when the owner proved the address is theirs (a verification link); None: not yet
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # one more at every change of the password: auth signs out the tokens issued before
    credentials_version: Mapped[int] = mapped_column(Integer, default=0)
    # the owner deleted the account: its name, address and password are gone
    # (booking/users/erasure.py); the row stays as the anonymous reference that
    # bookings and payments, kept as the law requires, still carry
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def email_verified(self):
        return self.email_verified_at is not None

    @property
    def deleted(self):
        return self.deleted_at is not None


class SentEmail(Base):
    """A message to send once for an event (key "confirmation:BK7F3K9QX2"), kept
    until it is sent: a worker claims it, then marks it sent; a claim older than
    the lease was left by a worker that died, and the sweep sends it."""

    __tablename__ = "sent_emails"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # "welcome", "confirmation", "changed", "cancelled"; the account's links and notices:
    # "password_reset", "verify_email", "change_email" (to the new address), "email_changed" (to the old),
    # "export_ready", "account_deleted" (the last one, to the address the account had)
    kind: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[dict | None] = mapped_column(JSON)  # what the message is made of
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccountToken(Base):
    """A single-use link sent by e-mail (a password reset, an address to verify): only
    the SHA-256 of its token is kept. The newest of an account's tokens of a purpose
    voids the older ones (`voided_at`); using one marks it `used_at`."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_purpose", "user_id", "purpose"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    # "password_reset", "verify_email" (the account's address), "change_email" (a new one)
    purpose: Mapped[str] = mapped_column(String(20))
    # the address the link was sent to, which it verifies
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RequestCount(Base):
    """One request counted against a limit (booking/users/limits.py): a reset asked
    for an address, or from a client address; a link sent again; a wrong password."""

    __tablename__ = "request_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DataExport(Base):
    """A copy of what Booking keeps about a guest (booking/users/export.py): one ZIP,
    made after the request, downloadable by its owner until `expires_at`; the
    content is dropped then (the row stays to say it expired)."""

    __tablename__ = "data_exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    # preparing -> ready -> expired
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    size: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
