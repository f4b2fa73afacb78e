"""Quote cursors count their writers (ADR 0071): `writes` goes up by one in every transaction that applies a quote of
the symbol, late or not, whichever process or path applies it.

The group commit keeps the quotes it applied in memory, per symbol, so that a late fill of a symbol quoted since is
re-evaluated without reading the stored quotes back. That memory is complete only while no other writer applied a
quote of the symbol; a late quote does not move the cursor, so the cursor alone cannot tell. The count can: the
group commit reads it under the cursors' lock, and trusts its memory of a symbol only if the count is the one its
own last write left.

Revision ID: rules_0005
Revises: rules_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "rules_0005"
down_revision = "rules_0004"
branch_labels = None
depends_on = None

SCHEMA = "rules"


def upgrade() -> None:
    op.add_column(
        "quote_cursors",
        sa.Column("writes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("quote_cursors", "writes", schema=SCHEMA)
