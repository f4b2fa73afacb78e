"""Review flags: a user marked for support's review (a chargeback, issue 5), with the evidence that raised it and,
once staff decide, who cleared it and why. Flags are never deleted: a cleared flag is the record of the review.

One flag per (user, reason, source_ref): the dispute id makes raising it idempotent even beyond the inbox.

Revision ID: identity_0005
Revises: identity_0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "identity_0005"
down_revision = "identity_0004"
branch_labels = None
depends_on = None

SCHEMA = "identity"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_flags",
        sa.Column("flag_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "user_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.users.user_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_ref", sa.String(255), nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("cleared_at", TS),
        sa.Column("cleared_by", sa.String(128)),
        sa.Column("clear_reason", sa.Text),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.CheckConstraint("status IN ('open', 'cleared')", name="review_flags_status_check"),
        sa.CheckConstraint(
            "(status = 'open') = (cleared_at IS NULL AND cleared_by IS NULL AND clear_reason IS NULL)",
            name="review_flags_cleared_fields_check",
        ),
        sa.UniqueConstraint("user_id", "reason", "source_ref", name="review_flags_user_reason_ref_key"),
        schema=SCHEMA,
    )
    # ListUsers(flagged_for_review) asks "has an open flag" per user.
    op.create_index(
        "review_flags_open_by_user",
        "review_flags",
        ["user_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("review_flags_open_by_user", table_name="review_flags", schema=SCHEMA)
    op.drop_table("review_flags", schema=SCHEMA)
