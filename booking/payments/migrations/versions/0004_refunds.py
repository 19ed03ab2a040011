"""Partial refunds: each refund is a row of its own, granted by the reservation or
returned whole; payments say what they pay for (a booking, or a change).

Existing refunds keep their meaning: each refunded payment's refund (always whole,
under the key `refund-<payment id>`) becomes a `returned` row, its credit note
counted as sent (none was promised then).

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
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("purpose", sa.String(60), nullable=False, server_default="booking"))
    refunds = op.create_table(
        "refunds",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("payment_id", sa.String(40), nullable=False, index=True),
        sa.Column("reservation_id", sa.String(12), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount_minor", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("bank_refund_id", sa.String(60), nullable=True),
        sa.Column("hotel_name", sa.String(200), nullable=True),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("note_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    rows = op.get_bind().execute(sa.text(
        "SELECT id, reservation_id, refunded_minor, currency, bank_refund_id, updated_at FROM payments "
        "WHERE status = 'refunded'").columns(updated_at=sa.DateTime(timezone=True))).all()
    if rows:
        op.bulk_insert(refunds, [
            {"id": f"refund-{payment_id}", "payment_id": payment_id, "reservation_id": reservation_id,
             "kind": "returned", "amount_minor": amount, "currency": currency, "bank_refund_id": bank_refund_id,
             "note_sent_at": updated_at, "created_at": updated_at}
            for payment_id, reservation_id, amount, currency, bank_refund_id, updated_at in rows])


def downgrade():
    op.drop_table("refunds")
    with op.batch_alter_table("payments") as table:
        table.drop_column("purpose")
