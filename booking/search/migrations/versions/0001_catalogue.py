"""The hotel catalogue: hotels and their room types.

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
        "hotels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("city_key", sa.String(100), nullable=False),
        sa.Column("country", sa.String(100), nullable=False),
        sa.Column("stars", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("amenities", sa.JSON, nullable=False),
    )
    op.create_index("ix_hotels_city_key", "hotels", ["city_key"])
    op.create_table(
        "room_types",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, sa.ForeignKey("hotels.id"), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("max_guests", sa.Integer, nullable=False),
        sa.Column("room_count", sa.Integer, nullable=False),
        sa.Column("price_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.UniqueConstraint("hotel_id", "code"),
    )
    op.create_index("ix_room_types_hotel_id", "room_types", ["hotel_id"])


def downgrade():
    op.drop_table("room_types")
    op.drop_table("hotels")
