"""A trader's cancellation at period end and refunds of monthly charges (ADR 0051).

`trading_accounts.subscription_cancel_at`: when Stripe will end the subscription because the trader cancelled at
period end (the account trades until then, as paid). `subscription_invoices.refunded_at`: the invoice's charge was
refunded (an older month refunded from the dashboard is only recorded; the latest one closes the account).

Revision ID: challenges_0008
Revises: challenges_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "challenges_0008"
down_revision = "challenges_0007"
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    op.add_column("trading_accounts", sa.Column("subscription_cancel_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column("subscription_invoices", sa.Column("refunded_at", sa.DateTime(timezone=True)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("subscription_invoices", "refunded_at", schema=SCHEMA)
    op.drop_column("trading_accounts", "subscription_cancel_at", schema=SCHEMA)
