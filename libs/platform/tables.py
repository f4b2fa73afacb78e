"""The tables every service's schema carries besides its own: outbox, inbox, audit log, idempotency keys.

Defined once here as SQLAlchemy Core tables bound to a schema; each service's first Alembic migration creates them
with `create_platform_tables` so their shape is identical everywhere.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID


@cache
def platform_tables(schema: str) -> dict[str, Table]:
    md = MetaData(schema=schema)
    outbox = Table(
        "outbox",
        md,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("destination", String(64), nullable=False),
        Column("event_type", String(128), nullable=False),
        Column("source", String(64), nullable=False),
        Column("aggregate_id", String(128), nullable=False),
        Column("aggregate_version", BigInteger, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("delivered_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
        Column("last_error", Text),
        UniqueConstraint("event_id", "destination", name="outbox_event_destination_key"),
        Index("outbox_pending_idx", "id", postgresql_where=text("delivered_at IS NULL")),
    )
    inbox = Table(
        "inbox",
        md,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("source", String(64), nullable=False),
        Column("event_type", String(128), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )
    audit_log = Table(
        "audit_log",
        md,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("actor_id", String(128), nullable=False),
        Column("actor_role", String(32), nullable=False),
        Column("ip", String(64)),
        Column("action", String(128), nullable=False),
        Column("subject_type", String(64), nullable=False),
        Column("subject_id", String(128), nullable=False),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False, unique=True),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        md,
        Column("key", String(255), primary_key=True),
        Column("operation", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("response", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )
    return {t.name: t for t in (outbox, inbox, audit_log, idempotency_keys)}


def create_platform_tables(connection, schema: str) -> None:
    """Called from a service's first migration (a sync connection from Alembic's `op.get_bind()`)."""
    tables = platform_tables(schema)
    next(iter(tables.values())).metadata.create_all(connection, tables=list(tables.values()))
    # The audit log is append-only: refuse UPDATE and DELETE at the database too, not only in code.
    connection.exec_driver_sql(
        f"""
        CREATE OR REPLACE FUNCTION "{schema}".audit_log_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON "{schema}".audit_log
            FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_log_append_only();
        """
    )
