"""Signing keys are published before they sign: a rotated-in key waits `activates_at` so every verifier's cached
JWK Set can learn it first (ADR 0032).

Revision ID: identity_0003
Revises: identity_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None

SCHEMA = "identity"


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("activates_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.execute('UPDATE "identity".signing_keys SET activates_at = created_at')
    op.alter_column("signing_keys", "activates_at", nullable=False, schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("signing_keys", "activates_at", schema=SCHEMA)
