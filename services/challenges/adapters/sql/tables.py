"""The challenges schema's own tables (the migrations create them; this is how the code addresses them)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "challenges"
metadata = MetaData(schema=SCHEMA)

# NUMERIC(20, 4): money in the catalogue is whole cents today; four places leave room for sub-cent prices
# without a scale change later ("asset scales cannot be easily changed").
MONEY = Numeric(20, 4)

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("current_version", Integer, nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

program_versions = Table(
    "program_versions",
    metadata,
    Column("version_id", UUID(as_uuid=True), primary_key=True),
    Column("program_id", String(64), ForeignKey(f"{SCHEMA}.programs.program_id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("account_size", MONEY, nullable=False),
    Column("price", MONEY, nullable=False),
    Column("profit_split", Numeric(5, 4), nullable=False),
    Column("phases", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("billing", String(16), nullable=False),  # one_time | monthly (migration 0005)
    # Retry and scaling terms (migration 0006, ADR 0054). No reset fee: the version sells no resets.
    Column("reset_fee", MONEY),
    Column("free_retries", Integer, nullable=False),
    Column("scaling_plan", JSONB, nullable=False),  # [{after_payouts, account_size, currency}, ...]
    UniqueConstraint("program_id", "version", name="program_versions_program_version_key"),
    CheckConstraint("status IN ('published', 'retired')", name="program_versions_status_check"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("user_email", String(320), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("program_version_id", UUID(as_uuid=True), nullable=False),
    Column("program_version", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price", MONEY, nullable=False),
    Column("promotion_code", String(64)),
    Column("status", String(16), nullable=False),
    Column("checkout_session_id", String(255)),
    Column("checkout_url", Text),
    Column("payment_intent_id", String(255)),
    Column("failure_reason", Text),
    Column("duplicate_payments", JSONB, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reset_account_id", UUID(as_uuid=True)),
    Column("billing", String(16), nullable=False),
    Column("subscription_id", String(255)),
    Column("row_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

trading_accounts = Table(
    "trading_accounts",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("order_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("user_email", String(320), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("program_version_id", UUID(as_uuid=True), nullable=False),
    Column("program_version", Integer, nullable=False),
    Column("phases", JSONB, nullable=False),
    Column("status", String(24), nullable=False),
    Column("suspended_from", String(24)),
    Column("failed_rule", String(64)),
    Column("platform_user_id", String(128)),
    Column("platform_account_id", String(128)),
    Column("platform_login", String(128)),
    Column("billing", String(16), nullable=False),
    Column("subscription_id", String(255)),
    Column("subscription_status", String(16)),
    Column("paid_through", DateTime(timezone=True)),
    Column("grace_until", DateTime(timezone=True)),
    Column("subscription_cancel_at", DateTime(timezone=True)),  # the trader cancelled at period end (0008)
    Column("suspension_reason", String(32)),
    # The retry and scaling terms bought (migration 0006), and where the account stands against them.
    Column("currency", String(3)),
    Column("reset_fee", MONEY),
    Column("free_retries", Integer, nullable=False),
    Column("free_retries_left", Integer, nullable=False),
    Column("scaling_plan", JSONB, nullable=False),
    Column("bought_account_size", MONEY),
    Column("account_size", MONEY),
    Column("payouts_counted", Integer, nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

account_attempts = Table(
    "account_attempts",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("phase", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("outcome", String(16)),
    Column("failed_rule", String(64)),
)

provisioning_jobs = Table(
    "provisioning_jobs",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("done_at", DateTime(timezone=True)),
)

platform_resets = Table(
    "platform_resets",
    metadata,
    Column("order_id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("done_at", DateTime(timezone=True)),
    # The new starting balance a scaling step resets the platform account to; NULL keeps the current one.
    Column("starting_balance", MONEY),
)

# Payouts completed on funded accounts (PayoutCompleted from payouts), one row per payout id: counted once.
account_payouts = Table(
    "account_payouts",
    metadata,
    Column("payout_id", String(128), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("account_payouts_account", "account_id"),
)

# The scaling steps each account took, in order: the admin's history.
account_scale_steps = Table(
    "account_scale_steps",
    metadata,
    Column("account_id", UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step", Integer, nullable=False),
    Column("from_size", MONEY, nullable=False),
    Column("to_size", MONEY, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payouts", Integer, nullable=False),
    Column("payout_id", String(128), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
)

subscription_invoices = Table(
    "subscription_invoices",
    metadata,
    Column("invoice_id", String(255), primary_key=True),
    Column("subscription_id", String(255), nullable=False),
    Column("order_id", UUID(as_uuid=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("period_end", DateTime(timezone=True)),
    Column("amount_paid", MONEY),
    Column("currency", String(3)),
    Column("payment_intent_id", String(255)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("refunded_at", DateTime(timezone=True)),  # the invoice's charge was refunded (0008)
)

# The funded-trader agreement accepted per account and version (migration 0007, ADR 0046): funding needs the current
# version's row; earlier versions' rows stay as history.
funded_agreements = Table(
    "funded_agreements",
    metadata,
    Column("account_id", UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), primary_key=True),
    Column("agreement_version", String(32), primary_key=True),
    Column("agreement_sha256", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(64)),
)

# The trader's platform password, sealed until revealed once (migration 0009, ADR 0045): erased (NULL) after the
# re-reveal window following the first reveal, or after the retention period if never revealed.
platform_credentials = Table(
    "platform_credentials",
    metadata,
    Column("account_id", UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("platform_login", String(128), nullable=False),
    Column("password_sealed", Text),  # envelope-encrypted (libs/platform/crypto.py); never the plain password
    Column("sealed_at", DateTime(timezone=True), nullable=False),
    Column("revealed_at", DateTime(timezone=True)),
    Column("revealed_ip", String(64)),
    Column("reveal_count", Integer, nullable=False, server_default="0"),
    Column("erased_at", DateTime(timezone=True)),
    Column("erased_reason", String(16)),
    CheckConstraint(
        "(password_sealed IS NULL) = (erased_at IS NOT NULL)", name="platform_credentials_sealed_or_erased"
    ),
)
