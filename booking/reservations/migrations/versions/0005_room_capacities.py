"""How many rooms of a type a hotel sells, once its manager changes it; a hotel's
reservations by arrival (its manager's list, its monthly report).

Existing nights keep their capacity; a room type no manager has changed has no row,
and its nights take the count of the quote that first touched them, as before.

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
        "room_capacities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("rooms", sa.Integer, nullable=False),
        sa.UniqueConstraint("hotel_id", "room_type"),
    )
    op.create_index("ix_reservations_hotel_check_in", "reservations", ["hotel_id", "check_in"])


def downgrade():
    op.drop_index("ix_reservations_hotel_check_in", "reservations")
    op.drop_table("room_capacities")
