"""The identity schema's platform tables: outbox, inbox, audit log, idempotency keys.

Revision ID: identity_0001
Revises:
"""

from alembic import op

from libs.platform.tables import create_platform_tables

revision = "identity_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op.get_bind(), "identity")


def downgrade() -> None:
    for table in ("idempotency_keys", "audit_log", "inbox", "outbox"):
        op.drop_table(table, schema="identity")
