"""A platform reset can carry the account's new starting balance: a scaling step (ADR 0054) resets the funded
account on YourPropFirm at its new size. NULL keeps the platform account's current starting balance (paid resets,
free retries, funding), so rows queued before this revision mean what they meant.

Revision ID: challenges_0010
Revises: challenges_0009
"""

import sqlalchemy as sa
from alembic import op

revision = "challenges_0010"
down_revision = "challenges_0009"
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    op.add_column("platform_resets", sa.Column("starting_balance", sa.Numeric(20, 4)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("platform_resets", "starting_balance", schema=SCHEMA)
