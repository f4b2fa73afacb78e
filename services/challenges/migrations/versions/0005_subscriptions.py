"""Monthly subscriptions: a billing term on program versions, the Stripe subscription on orders and accounts,
paid-through and grace-period dates, and the invoices already acted on.

Revision ID: challenges_0005
Revises: challenges_0004
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "challenges_0005"
down_revision = "challenges_0004"
branch_labels = None
depends_on = None

SCHEMA = "challenges"
NOW = sa.text("now()")
# Monthly variants of three tiers: (program id, the one-time tier whose version-1 terms they share, monthly price).
# Priced like the market's monthly evaluations (roughly 60% of our one-time price each month: a trader who passes
# in the first month pays less, one who needs three pays more).
MONTHLY = [
    ("eval-monthly-25k", "eval-25k", "89.00"),
    ("eval-monthly-50k", "eval-50k", "149.00"),
    ("eval-monthly-100k", "eval-100k", "269.00"),
]


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
    _seed_monthly_programs()
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
        # The payment that settled it: a dispute of a monthly charge names only this (ADR 0051).
        sa.Column("payment_intent_id", sa.String(255)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('paid', 'failed')", name="subscription_invoices_status_check"),
        schema=SCHEMA,
    )
    op.create_index("subscription_invoices_subscription", "subscription_invoices", ["subscription_id"], schema=SCHEMA)
    op.create_index(
        "subscription_invoices_payment",
        "subscription_invoices",
        ["payment_intent_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("payment_intent_id IS NOT NULL"),
    )


def _seed_monthly_programs() -> None:
    """The rule sets are copied from the one-time tier's version 1 (immutable): same evaluation, billed monthly."""
    for program_id, source, price in MONTHLY:
        op.execute(
            sa.text(
                f"INSERT INTO {SCHEMA}.programs (program_id, current_version, row_version, created_at) "  # noqa: S608 - constant schema
                "VALUES (:p, 1, 1, now())"
            ).bindparams(p=program_id)
        )
        op.execute(
            sa.text(
                f"INSERT INTO {SCHEMA}.program_versions (version_id, program_id, version, name, currency, "  # noqa: S608 - constant schema
                "account_size, price, profit_split, phases, status, published_at, billing) "
                "SELECT CAST(:vid AS UUID), :p, 1, replace(name, 'Evaluation', 'Monthly Evaluation'), currency, account_size, "
                f"CAST(:price AS NUMERIC), profit_split, phases, 'published', now(), 'monthly' FROM {SCHEMA}.program_versions "
                "WHERE program_id = :src AND version = 1"
            ).bindparams(
                # Deterministic ids, as in 0002: every environment names the same versions.
                vid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dynasty-futures/programs/{program_id}/1")),
                p=program_id,
                price=price,
                src=source,
            )
        )


def downgrade() -> None:
    ids = ", ".join(f"'{m[0]}'" for m in MONTHLY)
    op.execute(f"DELETE FROM {SCHEMA}.program_versions WHERE program_id IN ({ids})")  # noqa: S608 - constants
    op.execute(f"DELETE FROM {SCHEMA}.programs WHERE program_id IN ({ids})")  # noqa: S608 - constants
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
