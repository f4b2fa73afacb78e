"""The challenges schema's own tables (the migrations create them; this is how the code addresses them)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
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
    UniqueConstraint("program_id", "version", name="program_versions_program_version_key"),
    CheckConstraint("status IN ('published', 'retired')", name="program_versions_status_check"),
)
