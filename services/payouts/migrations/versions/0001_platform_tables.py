"""The payouts schema's platform tables: outbox, inbox, audit log, idempotency keys.

Revision ID: payouts_0001
Revises:
"""

from alembic import op

from libs.platform.tables import create_platform_tables

revision = "payouts_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op.get_bind(), "payouts")


def downgrade() -> None:
    for table in ("idempotency_keys", "audit_log", "inbox", "outbox"):
        op.drop_table(table, schema="payouts")
