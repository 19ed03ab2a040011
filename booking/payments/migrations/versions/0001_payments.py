"""Payments.

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
        "payments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("idempotency_key", sa.String(140), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("reservation_id", sa.String(12), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("card_brand", sa.String(20), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("failure_code", sa.String(40), nullable=True),
        sa.Column("bank_charge_id", sa.String(60), nullable=True),
        sa.Column("bank_refund_id", sa.String(60), nullable=True),
        sa.Column("refunded_minor", sa.Integer, nullable=False),
        sa.Column("receipt_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("payments")
