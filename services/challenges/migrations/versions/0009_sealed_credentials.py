"""The trader's trading-platform password, kept sealed until they reveal it once behind our sign-in (ADR 0045).

Provisioning used to email the YourPropFirm password in clear text. Now the password is envelope-encrypted
(libs/platform/crypto.py, context "platform-password:<account id>") and stored here in the transaction that activates
the account; GET /v1/accounts/{id}/credentials reveals it to the account's trader. The sealed value is erased (set
to NULL, the row kept as the record of what happened) once the short re-reveal window after the first reveal has
passed, or after the retention period if it was never revealed.

Revision ID: challenges_0009
Revises: challenges_0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "challenges_0009"
down_revision = "challenges_0008"
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    op.create_table(
        "platform_credentials",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("platform_login", sa.String(128), nullable=False),
        # The envelope ("v1.<wrapped key>.<nonce>.<ciphertext>"); NULL once erased. Never the plain password.
        sa.Column("password_sealed", sa.Text),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revealed_at", sa.DateTime(timezone=True)),  # the first reveal
        sa.Column("revealed_ip", sa.String(64)),
        sa.Column("reveal_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        sa.Column("erased_reason", sa.String(16)),  # revealed | expired
        sa.CheckConstraint(
            "(password_sealed IS NULL) = (erased_at IS NOT NULL)", name="platform_credentials_sealed_or_erased"
        ),
        schema=SCHEMA,
    )
    # The sweep looks for sealed rows only; erased rows (most of the table, over time) stay out of the index.
    op.create_index(
        "platform_credentials_sealed",
        "platform_credentials",
        ["sealed_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("password_sealed IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("platform_credentials_sealed", table_name="platform_credentials", schema=SCHEMA)
    op.drop_table("platform_credentials", schema=SCHEMA)
