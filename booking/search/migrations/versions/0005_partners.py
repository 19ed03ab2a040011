"""Partners: who manages which hotel, a hotel's policies in its own words, and
restrictions a later rule can lift.

A rule's `closed` and `closed_to_arrival` become three-valued (closed, opened, or no
say: NULL), so that a manager can open a night an earlier rule closed. Existing rules
keep their meaning: a `false` there always meant "no say", so it becomes NULL.

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
    op.create_table(
        "hotel_managers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, sa.ForeignKey("hotels.id"), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.UniqueConstraint("hotel_id", "user_id"),
    )
    with op.batch_alter_table("hotels") as table:
        table.add_column(sa.Column("policies_text", sa.Text, nullable=True))
    with op.batch_alter_table("rate_rules") as table:
        table.alter_column("closed", existing_type=sa.Boolean, nullable=True, server_default=None)
        table.alter_column("closed_to_arrival", existing_type=sa.Boolean, nullable=True, server_default=None)
    rules = sa.table("rate_rules", sa.column("closed", sa.Boolean), sa.column("closed_to_arrival", sa.Boolean))
    op.execute(rules.update().where(rules.c.closed == sa.false()).values(closed=None))
    op.execute(rules.update().where(rules.c.closed_to_arrival == sa.false()).values(closed_to_arrival=None))


def downgrade():
    rules = sa.table("rate_rules", sa.column("closed", sa.Boolean), sa.column("closed_to_arrival", sa.Boolean))
    op.execute(rules.update().where(rules.c.closed.is_(None)).values(closed=False))
    op.execute(rules.update().where(rules.c.closed_to_arrival.is_(None)).values(closed_to_arrival=False))
    with op.batch_alter_table("rate_rules") as table:
        table.alter_column("closed", existing_type=sa.Boolean, nullable=False)
        table.alter_column("closed_to_arrival", existing_type=sa.Boolean, nullable=False)
    with op.batch_alter_table("hotels") as table:
        table.drop_column("policies_text")
    op.drop_table("hotel_managers")
