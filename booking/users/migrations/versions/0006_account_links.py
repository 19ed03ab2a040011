"""Account links and limits: single-use tokens (a password reset, an address to
verify), stored as their SHA-256 only; requests counted against their limits; each
account's verified address and the version of its password.

Existing accounts are left *not verified* (`email_verified_at` NULL): nobody ever
proved those addresses, and the column says exactly that. Marking them verified
would claim a check that never happened, and an address mistyped at sign-up would
go on receiving a guest's confirmations and, once REQUIRE_VERIFIED_EMAIL is on, be
able to pay. The cost is one click: the account page (and the refusal a payment
gets) offers to send the link. Every other column keeps its rows and meaning;
`credentials_version` starts at 0 for every account, which is what the tokens auth
issued before this revision are counted as (auth's migration 0003).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("credentials_version", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "account_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_account_tokens_user_purpose", "account_tokens", ["user_id", "purpose"])
    op.create_table(
        "request_counts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_counts_key", "request_counts", ["key"])
    op.create_index("ix_request_counts_at", "request_counts", ["at"])


def downgrade():
    op.drop_table("request_counts")
    op.drop_table("account_tokens")
    with op.batch_alter_table("users") as table:
        table.drop_column("credentials_version")
        table.drop_column("email_verified_at")
