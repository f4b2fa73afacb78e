"""Monitoring: accounts under watch, raw trade events, quarantine, risk states and their history, violations with
evidence, enforcement jobs, the reconciliation cursor, events excluded by an overturn, the news calendar.

Written out step by step rather than built from services/rules/adapters/sql/tables.py: a migration is a frozen
record of one schema change, so a later edit to tables.py must come with a migration of its own instead of silently
changing what this one creates on a fresh database (ADR 0065). Constraint names are PostgreSQL's own defaults, the
names this revision has always produced, so later migrations can drop or alter them by name.
tests/integration/test_migrations_match_tables.py proves the result matches tables.py.

Revision ID: rules_0002
Revises: rules_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "rules_0002"
down_revision = "rules_0001"
branch_labels = None
depends_on = None

SCHEMA = "rules"

# Created in this order, dropped in the reverse one (no foreign keys between them today, but keep it honest).
TABLES = (
    "monitored_accounts",
    "risk_states",
    "trade_events",
    "quarantined_events",
    "risk_snapshots",
    "violations",
    "enforcement_jobs",
    "platform_cursors",
    "excluded_events",
    "news_events",
)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "monitored_accounts",
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("platform_account_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("program_id", sa.String(128), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("rule_set", JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("account_id", name="monitored_accounts_pkey"),
        sa.UniqueConstraint("platform_account_id", name="monitored_accounts_platform_account_id_key"),
        schema=SCHEMA,
    )

    op.create_table(
        "risk_states",
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("snapshot", JSONB(), nullable=False),
        sa.Column("engine_status", sa.String(16), nullable=False),
        sa.Column("held_symbols", ARRAY(sa.String(16)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_row", sa.BigInteger(), nullable=True),
        sa.Column("next_boundary_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("account_id", name="risk_states_pkey"),
        schema=SCHEMA,
    )
    op.create_index("ix_risk_states_next_boundary", "risk_states", ["next_boundary_at"], schema=SCHEMA)
    # A quote finds the accounts holding its symbols through this index (array containment needs GIN, which
    # tables.py does not declare: the adapters never name the index, only the planner uses it).
    op.create_index(
        "ix_risk_states_held_symbols", "risk_states", ["held_symbols"], schema=SCHEMA, postgresql_using="gin"
    )

    op.create_table(
        "trade_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider_event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("platform_account_id", sa.String(128), nullable=True),
        sa.Column("account_id", UUID(as_uuid=True), nullable=True),
        sa.Column("exchange_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("symbols", ARRAY(sa.String(16)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="trade_events_pkey"),
        sa.UniqueConstraint("provider_event_id", name="trade_events_provider_event_id_key"),
        schema=SCHEMA,
    )
    op.create_index("ix_trade_events_account_time", "trade_events", ["account_id", "exchange_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_trade_events_trades_time",
        "trade_events",
        ["exchange_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("event_type = 'trade'"),
    )
    op.create_index(
        "ix_trade_events_quotes_time",
        "trade_events",
        ["exchange_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("event_type = 'quote'"),
    )

    op.create_table(
        "quarantined_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("provider_event_id", sa.String(128), nullable=False),
        sa.Column("platform_account_id", sa.String(128), nullable=True),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="quarantined_events_pkey"),
        sa.UniqueConstraint("provider_event_id", name="quarantined_events_provider_event_id_key"),
        schema=SCHEMA,
    )

    op.create_table(
        "risk_snapshots",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("after_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("after_event_row", sa.BigInteger(), nullable=False),
        sa.Column("snapshot", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="risk_snapshots_pkey"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_risk_snapshots_account_time",
        "risk_snapshots",
        ["account_id", "attempt", "after_event_at", "after_event_row"],
        schema=SCHEMA,
    )

    op.create_table(
        "violations",
        sa.Column("violation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", JSONB(), nullable=False),
        sa.Column("trigger_event_id", sa.String(128), nullable=True),
        sa.Column("dedup_key", sa.String(400), nullable=False),
        sa.Column("review_status", sa.String(16), nullable=False, server_default=sa.text("'open'")),
        sa.Column("reviewed_by", sa.String(128), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("violation_id", name="violations_pkey"),
        sa.UniqueConstraint("dedup_key", name="violations_dedup_key_key"),
        schema=SCHEMA,
    )
    op.create_index("ix_violations_account", "violations", ["account_id", "occurred_at"], schema=SCHEMA)
    op.create_index("ix_violations_review", "violations", ["review_status", "created_at"], schema=SCHEMA)

    op.create_table(
        "enforcement_jobs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("id", name="enforcement_jobs_pkey"),
        sa.UniqueConstraint("idempotency_key", name="enforcement_jobs_idempotency_key_key"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_enforcement_jobs_due",
        "enforcement_jobs",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("done_at IS NULL"),
    )

    op.create_table(
        "platform_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("name", name="platform_cursors_pkey"),
        schema=SCHEMA,
    )

    op.create_table(
        "excluded_events",
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("provider_event_id", sa.String(128), nullable=False),
        sa.Column("violation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("account_id", "attempt", "provider_event_id", name="excluded_events_pkey"),
        schema=SCHEMA,
    )

    op.create_table(
        "news_events",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("instruments", ARRAY(sa.String(16)), nullable=True),  # NULL: every instrument
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.PrimaryKeyConstraint("at", "title", name="news_events_pkey"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints with it; the platform tables of rules_0001 stay.
    for table in reversed(TABLES):
        op.drop_table(table, schema=SCHEMA)
