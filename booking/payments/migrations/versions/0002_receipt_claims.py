"""Receipts are claimed before they are sent, and marked when sent.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("receipt_claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("payments") as table:
        table.drop_column("receipt_claimed_at")
