"""Rates: each hotel's time zone, times, currency and taxes; each room type's
occupancy; rate plans with their cancellation policies; the rate calendar's rules;
and what each held stay holds, with its version.

Existing data keeps its meaning: every room type gets a `flexible` plan at its
nightly price with the policy the confirmations always stated (free until 48 hours
before check-in, then the first night), and no rule, so every price stays as it was.

Revision ID: 0004
Revises: 0003
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# an ended stay's version outranks any event from before versions
ENDED = 2**30


def upgrade():
    with op.batch_alter_table("hotels") as table:
        table.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
        table.add_column(sa.Column("check_in_time", sa.String(5), nullable=False, server_default="15:00"))
        table.add_column(sa.Column("check_out_time", sa.String(5), nullable=False, server_default="11:00"))
        table.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))
        table.add_column(sa.Column("vat_basis_points", sa.Integer, nullable=False, server_default="1000"))
        table.add_column(sa.Column("city_tax_minor", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("room_types") as table:
        table.add_column(sa.Column("max_occupancy", sa.Integer, nullable=True))
    with op.batch_alter_table("held_stays") as table:
        table.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        table.add_column(sa.Column("holding", sa.JSON, nullable=True))
    rate_plans = op.create_table(
        "rate_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_type_id", sa.Integer, sa.ForeignKey("room_types.id"), nullable=False, index=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("price_minor", sa.Integer, nullable=False),
        sa.Column("free_until_hours", sa.Integer, nullable=True),
        sa.Column("penalty", sa.String(20), nullable=False),
        sa.Column("penalty_percent", sa.Integer, nullable=True),
        sa.UniqueConstraint("room_type_id", "code"),
    )
    op.create_table(
        "rate_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hotel_id", sa.Integer, sa.ForeignKey("hotels.id"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("room_type", sa.String(40), nullable=True),
        sa.Column("rate_plan", sa.String(40), nullable=True),
        sa.Column("starts", sa.Date, nullable=False),
        sa.Column("ends", sa.Date, nullable=False),
        sa.Column("every_year", sa.Boolean, nullable=False),
        sa.Column("weekdays", sa.String(7), nullable=True),
        sa.Column("price_minor", sa.Integer, nullable=True),
        sa.Column("adjust_percent", sa.Integer, nullable=True),
        sa.Column("adjust_minor", sa.Integer, nullable=True),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("closed_to_arrival", sa.Boolean, nullable=False),
        sa.Column("min_stay", sa.Integer, nullable=True),
        sa.Column("max_stay", sa.Integer, nullable=True),
    )
    connection = op.get_bind()
    # the hotels' currency was their room types'; the demo cities' zones are known
    for hotel_id, city, currency in connection.execute(sa.text(
            "SELECT hotels.id, hotels.city, MIN(room_types.currency) FROM hotels "
            "LEFT JOIN room_types ON room_types.hotel_id = hotels.id GROUP BY hotels.id, hotels.city")):
        connection.execute(sa.text("UPDATE hotels SET currency = :currency, timezone = :zone WHERE id = :id"),
                           {"currency": currency or "EUR", "zone": CITY_ZONES.get(city, "UTC"), "id": hotel_id})
    connection.execute(sa.text("UPDATE room_types SET max_occupancy = max_guests"))
    plans = [{"room_type_id": room_id, "code": "flexible", "name": "Flexible", "price_minor": price,
              "free_until_hours": 48, "penalty": "first_night", "penalty_percent": None}
             for room_id, price in connection.execute(sa.text("SELECT id, price_minor FROM room_types"))]
    if plans:
        op.bulk_insert(rate_plans, plans)
    for reservation_id, room_type, check_in, check_out, rooms, active in connection.execute(sa.text(
            "SELECT reservation_id, room_type, check_in, check_out, rooms, active FROM held_stays")).all():
        holding = [{"room_type": room_type, "check_in": str(check_in), "check_out": str(check_out),
                    "count": rooms}] if active else []
        connection.execute(sa.text("UPDATE held_stays SET version = :version, holding = :holding "
                                   "WHERE reservation_id = :id"),
                           {"version": 1 if active else ENDED, "holding": json.dumps(holding), "id": reservation_id})


def downgrade():
    op.drop_table("rate_rules")
    op.drop_table("rate_plans")
    with op.batch_alter_table("held_stays") as table:
        table.drop_column("holding")
        table.drop_column("version")
    with op.batch_alter_table("room_types") as table:
        table.drop_column("max_occupancy")
    with op.batch_alter_table("hotels") as table:
        for column in ("city_tax_minor", "vat_basis_points", "currency", "check_out_time", "check_in_time",
                       "timezone"):
            table.drop_column(column)


# the zones of the demo catalogue's cities as they were when this revision was written
CITY_ZONES = {
    "Paris": "Europe/Paris", "London": "Europe/London", "Rome": "Europe/Rome", "Berlin": "Europe/Berlin",
    "Madrid": "Europe/Madrid", "Amsterdam": "Europe/Amsterdam", "Lisbon": "Europe/Lisbon",
    "Vienna": "Europe/Vienna", "Prague": "Europe/Prague", "New York": "America/New_York",
    "Tokyo": "Asia/Tokyo", "Zürich": "Europe/Zurich", "Barcelona": "Europe/Madrid", "Milan": "Europe/Rome",
    "Munich": "Europe/Berlin", "Brussels": "Europe/Brussels", "Copenhagen": "Europe/Copenhagen",
    "Stockholm": "Europe/Stockholm", "Oslo": "Europe/Oslo", "Helsinki": "Europe/Helsinki",
    "Dublin": "Europe/Dublin", "Edinburgh": "Europe/London", "Budapest": "Europe/Budapest",
    "Warsaw": "Europe/Warsaw", "Kraków": "Europe/Warsaw", "Łódź": "Europe/Warsaw", "Athens": "Europe/Athens",
    "Istanbul": "Europe/Istanbul", "Reykjavík": "Atlantic/Reykjavik", "Porto": "Europe/Lisbon",
    "Seville": "Europe/Madrid", "Florence": "Europe/Rome", "Venice": "Europe/Rome", "Nice": "Europe/Paris",
    "Lyon": "Europe/Paris", "Geneva": "Europe/Zurich", "Hamburg": "Europe/Berlin",
    "Ljubljana": "Europe/Ljubljana", "Zagreb": "Europe/Zagreb", "Dubrovnik": "Europe/Zagreb",
    "Tallinn": "Europe/Tallinn", "Riga": "Europe/Riga", "Vilnius": "Europe/Vilnius",
    "Bratislava": "Europe/Bratislava", "San Francisco": "America/Los_Angeles", "Chicago": "America/Chicago",
    "Montréal": "America/Toronto", "Toronto": "America/Toronto", "México City": "America/Mexico_City",
    "São Paulo": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Kyoto": "Asia/Tokyo", "Osaka": "Asia/Tokyo", "Seoul": "Asia/Seoul", "Singapore": "Asia/Singapore",
    "Hong Kong": "Asia/Hong_Kong", "Bangkok": "Asia/Bangkok", "Sydney": "Australia/Sydney",
    "Melbourne": "Australia/Melbourne", "Cape Town": "Africa/Johannesburg", "Marrakech": "Africa/Casablanca",
    "Dubai": "Asia/Dubai",
}
