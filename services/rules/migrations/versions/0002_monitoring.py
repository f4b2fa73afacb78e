"""Monitoring: accounts under watch, raw trade events, quarantine, risk states and their history, violations with
evidence, enforcement jobs, the reconciliation cursor,
events excluded by an overturn, the news calendar.

Revision ID: rules_0002
Revises: rules_0001
"""

from alembic import op

from services.rules.adapters.sql.tables import (
    enforcement_jobs,
    excluded_events,
    metadata,
    monitored_accounts,
    news_events,
    platform_cursors,
    quarantined_events,
    risk_snapshots,
    risk_states,
    trade_events,
    violations,
)

revision = "rules_0002"
down_revision = "rules_0001"
branch_labels = None
depends_on = None

TABLES = (
    monitored_accounts,
    risk_states,
    trade_events,
    quarantined_events,
    risk_snapshots,
    violations,
    enforcement_jobs,
    platform_cursors,
    excluded_events,
    news_events,
)


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=list(TABLES))
    # A quote finds the accounts holding its symbols through this index.
    op.execute("CREATE INDEX ix_risk_states_held_symbols ON rules.risk_states USING gin (held_symbols)")


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=list(reversed(TABLES)))
