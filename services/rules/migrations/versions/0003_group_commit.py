"""Group commit and lazily saved marks (ADR 0061): a version on each risk state for the per-process cache, and the
event its snapshot describes, which may trail the last event applied by quotes that decided nothing.

Existing rows describe exactly their last event, so saved_event_* starts equal to last_event_*.

Revision ID: rules_0003
Revises: rules_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "rules_0003"
down_revision = "rules_0002"
branch_labels = None
depends_on = None

SCHEMA = "rules"


def upgrade() -> None:
    op.add_column(
        "risk_states",
        sa.Column("state_version", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )
    op.add_column("risk_states", sa.Column("saved_event_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column("risk_states", sa.Column("saved_event_row", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.execute("UPDATE rules.risk_states SET saved_event_at = last_event_at, saved_event_row = last_event_row")


def downgrade() -> None:
    # The old code reads a snapshot as describing last_event_*: point it back at the event the snapshot describes
    # (the quotes after it then count as not yet seen, and a replay of the account still applies them).
    op.execute(
        "UPDATE rules.risk_states SET last_event_at = saved_event_at, last_event_row = saved_event_row "
        "WHERE saved_event_row IS NOT NULL"
    )
    for column in ("saved_event_row", "saved_event_at", "state_version"):
        op.drop_column("risk_states", column, schema=SCHEMA)
