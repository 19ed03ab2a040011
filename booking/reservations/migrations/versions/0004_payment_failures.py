"""Why the last card tried for a hold was refused: a refused card no longer ends the
hold, so the guest (and the API) can see why and try another card.

Existing reservations have none.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reservations") as table:
        table.add_column(sa.Column("last_payment_failure", sa.String(40), nullable=True))


def downgrade():
    with op.batch_alter_table("reservations") as table:
        table.drop_column("last_payment_failure")
