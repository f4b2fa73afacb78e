"""Paid resets: an order may buy a new attempt on an existing account; the platform reset is a queued job.

Revision ID: challenges_0004
Revises: challenges_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "challenges_0004"
down_revision = "challenges_0003"
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    op.add_column("orders", sa.Column("kind", sa.String(16), nullable=False, server_default="purchase"), schema=SCHEMA)
    op.add_column(
        "orders",
        sa.Column("reset_account_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id")),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "orders_kind_check",
        "orders",
        "(kind = 'purchase' AND reset_account_id IS NULL) OR (kind = 'reset' AND reset_account_id IS NOT NULL)",
        schema=SCHEMA,
    )
    # One row per paid reset order: the platform's reset runs outside the transaction, as provisioning does.
    op.create_table(
        "platform_resets",
        sa.Column("order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.orders.order_id"), primary_key=True),
        sa.Column(
            "account_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), nullable=False
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("platform_resets", schema=SCHEMA)
    op.drop_constraint("orders_kind_check", "orders", schema=SCHEMA)
    op.drop_column("orders", "reset_account_id", schema=SCHEMA)
    op.drop_column("orders", "kind", schema=SCHEMA)
