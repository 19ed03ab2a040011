"""The availability projection: held stays and rooms taken per night.

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
    op.create_table(
        "held_stays",
        sa.Column("reservation_id", sa.String(12), primary_key=True),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("check_in", sa.Date, nullable=False),
        sa.Column("check_out", sa.Date, nullable=False),
        sa.Column("rooms", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "booked_nights",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("room_type", sa.String(40), nullable=False),
        sa.Column("night", sa.Date, nullable=False),
        sa.Column("taken", sa.Integer, nullable=False),
        sa.UniqueConstraint("hotel_id", "room_type", "night"),
    )


def downgrade():
    op.drop_table("booked_nights")
    op.drop_table("held_stays")
