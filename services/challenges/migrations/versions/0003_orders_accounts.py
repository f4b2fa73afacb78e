"""Orders, Stripe events, trading accounts with their attempts, and the provisioning queue.

Revision ID: challenges_0003
Revises: challenges_0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "challenges_0003"
down_revision = "challenges_0002"
branch_labels = None
depends_on = None

SCHEMA = "challenges"
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column(
            "program_version_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.program_versions.version_id"),
            nullable=False,
        ),
        sa.Column("program_version", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price", sa.Numeric(20, 4), nullable=False),
        sa.Column("promotion_code", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checkout_session_id", sa.String(255), unique=True),
        sa.Column("checkout_url", sa.Text),
        sa.Column("payment_intent_id", sa.String(255), unique=True),
        sa.Column("failure_reason", sa.Text),
        sa.Column("duplicate_payments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('pending', 'paid', 'failed', 'refunded')", name="orders_status_check"),
        schema=SCHEMA,
    )
    op.create_index("orders_user", "orders", ["user_id", "created_at"], schema=SCHEMA)
    # Every Stripe event is stored by its id before it is acted on, in the same transaction as its effects.
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=SCHEMA,
    )
    op.create_table(
        "trading_accounts",
        sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
        # One account per order, enforced by the database too: two payments can never make two accounts.
        sa.Column("order_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.orders.order_id"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_email", sa.String(320), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("program_version_id", UUID(as_uuid=True), nullable=False),
        sa.Column("program_version", sa.Integer, nullable=False),
        sa.Column("phases", JSONB, nullable=False),  # the exact rule sets bought, never updated
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("suspended_from", sa.String(24)),
        sa.Column("failed_rule", sa.String(64)),
        sa.Column("platform_user_id", sa.String(128)),
        sa.Column("platform_account_id", sa.String(128)),
        sa.Column("platform_login", sa.String(128)),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("order_id", name="trading_accounts_order_key"),
        sa.CheckConstraint(
            "status IN ('pending_payment', 'provisioning', 'phase_1', 'phase_2', 'passed', 'funded', 'failed', "
            "'suspended', 'closed')",
            name="trading_accounts_status_check",
        ),
        schema=SCHEMA,
    )
    op.create_index("trading_accounts_user", "trading_accounts", ["user_id", "created_at"], schema=SCHEMA)
    op.create_index("trading_accounts_status", "trading_accounts", ["status", "created_at"], schema=SCHEMA)
    op.create_table(
        "account_attempts",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("failed_rule", sa.String(64)),
        schema=SCHEMA,
    )
    # Platform calls happen outside any transaction: a job row is committed with the account, then a worker
    # claims it (a lease), calls the platform with an idempotency key from the account id, and records the result.
    op.create_table(
        "provisioning_jobs",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )
    op.create_index(
        "provisioning_jobs_due",
        "provisioning_jobs",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    for table in ("provisioning_jobs", "account_attempts", "trading_accounts", "stripe_events", "orders"):
        op.drop_table(table, schema=SCHEMA)
