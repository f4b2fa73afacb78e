"""Monthly subscriptions: a billing term on program versions, the Stripe subscription on orders and accounts,
paid-through and grace-period dates, the invoices seen, and a queue of subscription cancellations at Stripe.

Revision ID: challenges_0005
Revises: challenges_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "challenges_0005"
down_revision = "challenges_0004"
branch_labels = None
depends_on = None

SCHEMA = "challenges"
NOW = sa.text("now()")


def upgrade() -> None:
    # Every existing version, order and account is one-time: the default keeps today's behaviour.
    op.add_column(
        "program_versions",
        sa.Column("billing", sa.String(16), nullable=False, server_default="one_time"),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "program_versions_billing_check", "program_versions", "billing IN ('one_time', 'monthly')", schema=SCHEMA
    )
    op.add_column(
        "orders", sa.Column("billing", sa.String(16), nullable=False, server_default="one_time"), schema=SCHEMA
    )
    op.add_column("orders", sa.Column("subscription_id", sa.String(255), unique=True), schema=SCHEMA)
    op.create_check_constraint("orders_billing_check", "orders", "billing IN ('one_time', 'monthly')", schema=SCHEMA)
    for column in (
        sa.Column("billing", sa.String(16), nullable=False, server_default="one_time"),
        sa.Column("subscription_id", sa.String(255), unique=True),
        # active | past_due | ended; NULL for one-time accounts.
        sa.Column("subscription_status", sa.String(16)),
        sa.Column("paid_through", sa.DateTime(timezone=True)),
        sa.Column("grace_until", sa.DateTime(timezone=True)),
        # Why the account is suspended (non_payment is lifted by a paid invoice; others only by an admin).
        sa.Column("suspension_reason", sa.String(32)),
    ):
        op.add_column("trading_accounts", column, schema=SCHEMA)
    # The grace-expiry job's work list is this index: accounts whose grace period has a deadline.
    op.create_index(
        "trading_accounts_grace_due",
        "trading_accounts",
        ["grace_until"],
        schema=SCHEMA,
        postgresql_where=sa.text("grace_until IS NOT NULL"),
    )
    # One row per invoice acted on: a replayed or late event for an invoice already settled changes nothing.
    op.create_table(
        "subscription_invoices",
        sa.Column("invoice_id", sa.String(255), primary_key=True),
        sa.Column("subscription_id", sa.String(255), nullable=False),
        sa.Column("order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.orders.order_id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True)),
        sa.Column("amount_paid", sa.Numeric(20, 4)),
        sa.Column("currency", sa.String(3)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('paid', 'failed')", name="subscription_invoices_status_check"),
        schema=SCHEMA,
    )
    op.create_index("subscription_invoices_subscription", "subscription_invoices", ["subscription_id"], schema=SCHEMA)
    # Cancelling at Stripe happens outside the transaction that funds the account, as provisioning does.
    op.create_table(
        "subscription_cancellations",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("subscription_id", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("subscription_cancellations", schema=SCHEMA)
    op.drop_table("subscription_invoices", schema=SCHEMA)
    op.drop_index("trading_accounts_grace_due", "trading_accounts", schema=SCHEMA)
    for name in (
        "suspension_reason",
        "grace_until",
        "paid_through",
        "subscription_status",
        "subscription_id",
        "billing",
    ):
        op.drop_column("trading_accounts", name, schema=SCHEMA)
    op.drop_constraint("orders_billing_check", "orders", schema=SCHEMA)
    op.drop_column("orders", "subscription_id", schema=SCHEMA)
    op.drop_column("orders", "billing", schema=SCHEMA)
    op.drop_constraint("program_versions_billing_check", "program_versions", schema=SCHEMA)
    op.drop_column("program_versions", "billing", schema=SCHEMA)
