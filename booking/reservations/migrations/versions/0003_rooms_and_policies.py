"""Several rooms per reservation, each with the price of each night and the
cancellation policy it was booked under; changes of dates or rooms; the quote
a reservation was priced from, its hotel's clock, and its version.

Existing reservations keep their meaning: each becomes one room at its flat
nightly price, under the policy they were always treated by (cancelling was
free, and refunded in full, until the stay ended: penalty "none").

Revision ID: 0003
Revises: 0002
"""
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ALWAYS_FREE = {"free_until_hours": None, "penalty": "none", "penalty_percent": None}


def upgrade():
    with op.batch_alter_table("reservations") as table:
        table.add_column(sa.Column("city_tax_minor", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("kept_minor", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("refund_minor", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("quote", sa.JSON, nullable=True))
        table.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
        table.add_column(sa.Column("check_in_time", sa.String(5), nullable=False, server_default="15:00"))
        table.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        table.add_column(sa.Column("changing", sa.String(40), nullable=True))
    booked_rooms = op.create_table(
        "booked_rooms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reservation_id", sa.String(12), sa.ForeignKey("reservations.id"), nullable=False, index=True),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("room_name", sa.String(100), nullable=False),
        sa.Column("rate_plan", sa.String(40), nullable=False),
        sa.Column("rate_plan_name", sa.String(100), nullable=False),
        sa.Column("adults", sa.Integer, nullable=False),
        sa.Column("children", sa.JSON, nullable=False),
        sa.Column("check_in", sa.Date, nullable=False),
        sa.Column("check_out", sa.Date, nullable=False),
        sa.Column("nights", sa.JSON, nullable=False),
        sa.Column("price_minor", sa.Integer, nullable=False),
        sa.Column("city_tax_minor", sa.Integer, nullable=False),
        sa.Column("total_minor", sa.Integer, nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("penalty_minor", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("refund_minor", sa.Integer, nullable=True),
        sa.Column("kept_minor", sa.Integer, nullable=True),
        sa.UniqueConstraint("reservation_id", "line"),
    )
    op.create_table(
        "booking_changes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("reservation_id", sa.String(12), sa.ForeignKey("reservations.id"), nullable=False, index=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("failure", sa.JSON, nullable=True),
        sa.Column("taken", sa.JSON, nullable=False),
        sa.Column("released", sa.JSON, nullable=False),
        sa.Column("quote", sa.JSON, nullable=False),
        sa.Column("difference_minor", sa.Integer, nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("reservation_id", "idempotency_key"),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, room_type, room_name, check_in, check_out, guests, nightly_price_minor, total_minor, refunded "
        "FROM reservations")).all()
    lines = []
    for (reservation_id, room_type, room_name, check_in, check_out, guests, nightly, total, _refunded) in rows:
        check_in, check_out = as_date(check_in), as_date(check_out)
        stay = [str(check_in + timedelta(days=n)) for n in range((check_out - check_in).days)]
        lines.append({
            "reservation_id": reservation_id, "line": 1, "room_type": room_type, "room_name": room_name,
            "rate_plan": "flexible", "rate_plan_name": "Flexible", "adults": guests, "children": [],
            "check_in": check_in, "check_out": check_out,
            "nights": [{"date": night, "price_minor": nightly} for night in stay],
            "price_minor": total, "city_tax_minor": 0, "total_minor": total, "policy": ALWAYS_FREE,
            "deadline": None, "penalty_minor": 0, "status": "active"})
    # a cancelled booking that was refunded was refunded whole (a refunded payment of a
    # booking still confirmed came too late or twice: the booking granted nothing)
    connection.execute(sa.text("UPDATE reservations SET refund_minor = total_minor "
                               "WHERE refunded = :yes AND status = 'cancelled'"), {"yes": True})
    if lines:
        op.bulk_insert(booked_rooms, lines)


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def downgrade():
    op.drop_table("booking_changes")
    op.drop_table("booked_rooms")
    with op.batch_alter_table("reservations") as table:
        for column in ("changing", "version", "check_in_time", "timezone", "quote", "refund_minor", "kept_minor",
                       "city_tax_minor"):
            table.drop_column(column)


