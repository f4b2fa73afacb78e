"""KYC cases (Stripe Identity), the Stripe events applied to them, reviewer notes and encrypted documents; and the
provider identities (OAuth / OIDC) linked to accounts.

users.kyc_status stays as the denormalised copy of kyc_cases.status that user listings read (0002 created it);
the KYC repository writes both in one transaction.

Revision ID: identity_0004
Revises: identity_0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None

SCHEMA = "identity"
TS = sa.DateTime(timezone=True)
KYC_STATES = "('not_started', 'pending', 'approved', 'rejected', 'needs_review')"


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.users.user_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "kyc_cases",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),  # one case per user
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("verification_session_id", sa.String(255)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_event_at", TS),
        sa.Column("last_event_rank", sa.Integer, nullable=False),
        sa.Column("last_error_code", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.CheckConstraint(f"status IN {KYC_STATES}", name="kyc_cases_status_check"),
        schema=SCHEMA,
    )
    op.create_index("kyc_cases_session", "kyc_cases", ["verification_session_id"], unique=True, schema=SCHEMA)
    op.create_table(
        "kyc_notes",
        sa.Column("note_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("kyc_notes_user", "kyc_notes", ["user_id", "note_id"], schema=SCHEMA)
    # Every Stripe event is stored by its id before it is acted on; a second delivery finds it and does nothing.
    op.create_table(
        "kyc_stripe_events",
        sa.Column("stripe_event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("verification_session_id", sa.String(255), nullable=False),
        sa.Column("event_created_at", TS, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "kyc_documents",
        sa.Column("document_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False),  # where the sealed bytes are in object storage
        sa.Column("uploaded_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("kyc_documents_user", "kyc_documents", ["user_id"], schema=SCHEMA)
    op.create_table(
        "oauth_identities",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("email_at_link", sa.String(320)),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_index("oauth_identities_user", "oauth_identities", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("oauth_identities", schema=SCHEMA)
    op.drop_table("kyc_documents", schema=SCHEMA)
    op.drop_table("kyc_stripe_events", schema=SCHEMA)
    op.drop_table("kyc_notes", schema=SCHEMA)
    op.drop_table("kyc_cases", schema=SCHEMA)
