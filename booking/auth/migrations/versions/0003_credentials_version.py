"""A person's tokens carry the version of the password they were issued under, so
that a new password (users' `password_changed`) signs out every session and access
token issued before it.

Refresh tokens issued before this revision keep every column as it was; their
`credentials_version` is NULL, which counts as version 0: the first change of
password after it signs them out, as it should. Access tokens issued before it were
never recorded; they live out their short life (`ACCESS_TOKEN_TTL`, at most 15
minutes) as they always did.

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
    with op.batch_alter_table("refresh_tokens") as table:
        table.add_column(sa.Column("credentials_version", sa.Integer, nullable=True))
    op.create_table(
        "issued_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("credentials_version", sa.Integer, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade():
    op.drop_table("issued_access_tokens")
    with op.batch_alter_table("refresh_tokens") as table:
        table.drop_column("credentials_version")
