"""A spent refresh token keeps its successor, sealed, so that a retried refresh
(within the grace) gets the same one.

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
    with op.batch_alter_table("refresh_tokens") as table:
        table.add_column(sa.Column("successor_sealed", sa.Text, nullable=True))


def downgrade():
    with op.batch_alter_table("refresh_tokens") as table:
        table.drop_column("successor_sealed")
