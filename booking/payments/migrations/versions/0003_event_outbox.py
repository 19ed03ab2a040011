"""The outbox: the events payments records in the transaction of their change, for its
relay to publish (booking/kit/outbox.py).

Revision ID: 0003
Revises: 0002
"""
from booking.kit.outbox import create_outbox_table, drop_outbox_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_outbox_table()


def downgrade():
    drop_outbox_table()
