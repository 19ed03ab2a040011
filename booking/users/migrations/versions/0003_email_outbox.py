"""E-mails are kept until sent: claimed with a lease, marked when sent, and what
they need to be sent again (their kind, the account, the event).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sent_emails") as table:
        table.add_column(sa.Column("kind", sa.String(20), nullable=True))
        table.add_column(sa.Column("user_id", sa.Integer, nullable=True))
        table.add_column(sa.Column("event", sa.JSON, nullable=True))
        table.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        table.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade():
    with op.batch_alter_table("sent_emails") as table:
        table.alter_column("sent_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        for column in ("claimed_at", "event", "user_id", "kind"):
            table.drop_column(column)
