"""Room nights and reservations.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "room_nights",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("night", sa.Date, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("held", sa.Integer, nullable=False),
        sa.UniqueConstraint("hotel_id", "room_type", "night"),
    )
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("hotel_name", sa.String(200), nullable=False),
        sa.Column("hotel_address", sa.String(300), nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("room_name", sa.String(100), nullable=False),
        sa.Column("check_in", sa.Date, nullable=False),
        sa.Column("check_out", sa.Date, nullable=False),
        sa.Column("guests", sa.Integer, nullable=False),
        sa.Column("rooms", sa.Integer, nullable=False),
        sa.Column("nightly_price_minor", sa.Integer, nullable=False),
        sa.Column("total_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("status_reason", sa.String(40), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=True),
        sa.Column("refunded", sa.Boolean, nullable=False),
        sa.Column("confirmation_pdf", sa.LargeBinary, nullable=True),
        sa.UniqueConstraint("user_id", "idempotency_key"),
    )


def downgrade():
    op.drop_table("reservations")
    op.drop_table("room_nights")
