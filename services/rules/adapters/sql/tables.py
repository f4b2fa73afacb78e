"""The rules schema's own tables (the platform's outbox, inbox, audit log and idempotency keys are libs.platform's).

Migration 0002 creates them; this module is the SQLAlchemy Core view the adapters query through.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from libs.platform.db import schema_metadata

SCHEMA = "rules"
metadata = schema_metadata(SCHEMA)

# One row per account we judge: the attempt and rule set in force, and whether we are still watching it.
monitored_accounts = Table(
    "monitored_accounts",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("platform_account_id", String(128), nullable=False, unique=True),
    Column("user_id", String(128), nullable=False),
    Column("program_id", String(128), nullable=False),
    Column("phase", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("rule_set", JSONB, nullable=False),
    Column("status", String(16), nullable=False),  # monitoring | stopped
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

# The live risk state: the engine's snapshot after the last event applied, and the symbols it holds (so a quote
# finds the accounts it moves through a GIN index instead of loading every state).
risk_states = Table(
    "risk_states",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("attempt", Integer, nullable=False),
    Column("snapshot", JSONB, nullable=False),
    Column("engine_status", String(16), nullable=False),
    Column("held_symbols", ARRAY(String(16)), nullable=False, server_default=text("'{}'")),
    Column("last_event_at", DateTime(timezone=True)),
    Column("last_event_row", BigInteger),
    # When the engine's next boundary fires: the clock ticker finds idle accounts that need a tick through it.
    Column("next_boundary_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Bumped by every write of the row (a full save or a quote's touch): a process's cached AccountRisk is reused
    # only while the version it was read at is still the row's, so another writer's change is never missed.
    Column("state_version", BigInteger, nullable=False, server_default=text("0")),
    # The event the snapshot describes. A quote that decided nothing for the account only moves last_event_*
    # (ADR 0061): the current state is the snapshot plus the stored applied quotes of its held symbols in
    # (saved_event, last_event], replayed through risk_runner like any replay.
    Column("saved_event_at", DateTime(timezone=True)),
    Column("saved_event_row", BigInteger),
    # The next number of a sequence on every insert and update (set by a trigger the migration creates, ADR 0068):
    # the group commit reads the rows changed since its last batch to keep its directory of holders.
    Column("change_seq", BigInteger, nullable=False),
)
Index("ix_risk_states_next_boundary", risk_states.c.next_boundary_at)
Index("ix_risk_states_change_seq", risk_states.c.change_seq)
Index(
    "ix_risk_states_flat_saved",
    risk_states.c.saved_event_at,
    postgresql_where=text("held_symbols = '{}'::varchar(16)[]"),
)

# Per symbol, the latest applied quote (ADR 0068). A quote that decides nothing for an account writes nothing of
# the account: the account's state runs up to max(last_event, the cursors of its held symbols). Writers of an
# account take these rows FOR SHARE (the group commit FOR UPDATE) so that a quote and a save never miss each other.
quote_cursors = Table(
    "quote_cursors",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("quote_at", DateTime(timezone=True)),
    Column("quote_row", BigInteger),
    # How many transactions applied a quote of the symbol (ADR 0071): a process trusts its memory of the symbol's
    # quotes only while the count is the one its own last write left.
    Column("writes", BigInteger, nullable=False, server_default=text("0")),
)

# Every platform event as received, deduplicated by the provider's id. Quotes have no account: one row serves
# every account holding one of its symbols.
trade_events = Table(
    "trade_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("provider_event_id", String(128), nullable=False, unique=True),
    Column("event_type", String(16), nullable=False),
    Column("platform_account_id", String(128)),
    Column("account_id", UUID(as_uuid=True)),
    Column("exchange_at", DateTime(timezone=True), nullable=False),
    Column("sequence", BigInteger),
    Column("symbols", ARRAY(String(16)), nullable=False, server_default=text("'{}'")),
    Column("payload", JSONB, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | recorded | coalesced (quotes, ADR 0062)
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
Index("ix_trade_events_account_time", trade_events.c.account_id, trade_events.c.exchange_at, trade_events.c.id)
# A late quote finds the accounts that traded its symbols after it through this one.
Index(
    "ix_trade_events_trades_time",
    trade_events.c.exchange_at,
    postgresql_where=text("event_type = 'trade'"),
)
Index(
    "ix_trade_events_quotes_time",
    trade_events.c.exchange_at,
    postgresql_where=text("event_type = 'quote'"),
)

# Events naming a platform account we do not monitor: kept, reported, never dropped.
quarantined_events = Table(
    "quarantined_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("provider_event_id", String(128), nullable=False, unique=True),
    Column("platform_account_id", String(128)),
    Column("event_type", String(16), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Set when the account was activated after all and the event was applied to it.
    Column("released_at", DateTime(timezone=True)),
)

# Risk-state history: the snapshot after a fill, so a late event re-evaluates from the last one before it.
risk_snapshots = Table(
    "risk_snapshots",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("after_event_at", DateTime(timezone=True), nullable=False),
    Column("after_event_row", BigInteger, nullable=False),
    Column("snapshot", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
Index(
    "ix_risk_snapshots_account_time",
    risk_snapshots.c.account_id,
    risk_snapshots.c.attempt,
    risk_snapshots.c.after_event_at,
    risk_snapshots.c.after_event_row,
)

# Breaches and conduct violations with the figures that made them; dedup_key makes a re-evaluation that finds the
# same decision again a no-op.
violations = Table(
    "violations",
    metadata,
    Column("violation_id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("rule", String(32), nullable=False),
    Column("severity", String(16), nullable=False),  # hard | soft | conduct
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("trigger_event_id", String(128)),
    Column("dedup_key", String(400), nullable=False, unique=True),
    Column("review_status", String(16), nullable=False, server_default=text("'open'")),
    Column("reviewed_by", String(128)),
    Column("review_reason", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
Index("ix_violations_account", violations.c.account_id, violations.c.occurred_at)
Index("ix_violations_review", violations.c.review_status, violations.c.created_at)

# Work that must reach the outside world after the decision committed (flatten, disable, notify): written in the
# decision's transaction, carried out by a worker, retried until done, each under its own idempotency key.
enforcement_jobs = Table(
    "enforcement_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(16), nullable=False),  # flatten | disable | notify
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("payload", JSONB, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_error", Text),
    Column("done_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
Index("ix_enforcement_jobs_due", enforcement_jobs.c.next_attempt_at, postgresql_where=text("done_at IS NULL"))

# Where each reconciliation read of the platform left off (the event log's cursor), so a restart resumes there.
platform_cursors = Table(
    "platform_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

# Events an admin's overturn took out of one account's record (a bad tick): replays of that account skip them.
excluded_events = Table(
    "excluded_events",
    metadata,
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("provider_event_id", String(128), primary_key=True),
    Column("violation_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

# The economic-news calendar (imported by admins): the engine's news windows come from the restricted events.
news_events = Table(
    "news_events",
    metadata,
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("title", String(200), primary_key=True),
    Column("instruments", ARRAY(String(16))),  # NULL: every instrument
    Column("tier", Integer, nullable=False),
    Column("restricted", Boolean, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
