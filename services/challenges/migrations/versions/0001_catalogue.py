"""The challenges schema: platform tables and the program catalogue.

Revision ID: challenges_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from libs.platform.tables import create_platform_tables

revision = "challenges_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "challenges"


def upgrade() -> None:
    create_platform_tables(op.get_bind(), SCHEMA)
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "program_versions",
        sa.Column("version_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("program_id", sa.String(64), sa.ForeignKey(f"{SCHEMA}.programs.program_id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("account_size", sa.Numeric(20, 4), nullable=False),
        sa.Column("price", sa.Numeric(20, 4), nullable=False),
        sa.Column("profit_split", sa.Numeric(5, 4), nullable=False),
        sa.Column("phases", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("program_id", "version", name="program_versions_program_version_key"),
        sa.CheckConstraint("status IN ('published', 'retired')", name="program_versions_status_check"),
        schema=SCHEMA,
    )
    # At most one published version per program, enforced by the database as well as the code.
    op.create_index(
        "program_versions_one_published",
        "program_versions",
        ["program_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'published'"),
    )


def downgrade() -> None:
    op.drop_table("program_versions", schema=SCHEMA)
    op.drop_table("programs", schema=SCHEMA)
    for table in ("idempotency_keys", "audit_log", "inbox", "outbox"):
        op.drop_table(table, schema=SCHEMA)
