"""Roles: every account so far is a guest's.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("role", sa.String(20), nullable=False, server_default="guest"))


def downgrade():
    with op.batch_alter_table("users") as table:
        table.drop_column("role")
