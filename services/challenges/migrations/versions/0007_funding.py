"""The funded-trader agreement: which version a trader accepted for which passed account, when and from where (ADR
0046). Funding (passed -> funded) needs the current version accepted for that account; a new version published later
needs accepting again, so the key is (account, version) and an earlier acceptance stays as history.

Revision ID: challenges_0007
Revises: challenges_0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "challenges_0007"
down_revision = "challenges_0006"
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    op.create_table(
        "funded_agreements",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("agreement_version", sa.String(32), primary_key=True),
        # The SHA-256 of the exact text accepted: the version name alone could be reused for an edited text.
        sa.Column("agreement_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        # The client address the gateway saw (None when the caller was not behind the gateway, e.g. the CLI).
        sa.Column("ip", sa.String(64)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("funded_agreements", schema=SCHEMA)
