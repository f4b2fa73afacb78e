"""The identity schema's own tables: users and credentials, sessions with refresh-token families, MFA, signing
keys, login history and devices, staff IP allow-lists and tax profiles.

Secrets never sit here in the clear: passwords and recovery codes as argon2id hashes, refresh and MFA-challenge
tokens as SHA-256 digests, TOTP secrets, signing keys and TINs envelope-encrypted (libs/platform/crypto.py).

Revision ID: identity_0002
Revises: identity_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None

SCHEMA = "identity"
TS = sa.DateTime(timezone=True)


def _user_fk() -> sa.ForeignKey:
    return sa.ForeignKey(f"{SCHEMA}.users.user_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),  # stored lower-cased; unique below
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("email_verified_at", TS),
        sa.Column("mfa_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        # Owned by the KYC use cases (issue 4, second half); defaults so every user has a state from day one.
        sa.Column("kyc_status", sa.String(16), nullable=False, server_default="not_started"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("row_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("email", name="users_email_key"),
        sa.CheckConstraint("role IN ('trader', 'support', 'admin')", name="users_role_check"),
        sa.CheckConstraint(
            "status IN ('pending_verification', 'active', 'suspended', 'terminated')", name="users_status_check"
        ),
        sa.CheckConstraint(
            "kyc_status IN ('not_started', 'pending', 'approved', 'rejected', 'needs_review')",
            name="users_kyc_status_check",
        ),
        sa.CheckConstraint("email = lower(email)", name="users_email_lower_check"),
        schema=SCHEMA,
    )
    op.create_table(
        "credentials",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        schema=SCHEMA,
    )
    # Verification tokens are stateless (HMAC-signed, expiring); this table makes each one single-use.
    op.create_table(
        "used_verification_tokens",
        sa.Column("token_id", sa.String(64), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("used_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "sessions",
        sa.Column("session_id", UUID(as_uuid=True), primary_key=True),  # also the refresh-token family id
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("amr", JSONB, nullable=False),
        sa.Column("mfa_at", TS),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column("revoke_reason", sa.String(32)),
        schema=SCHEMA,
    )
    op.create_index(
        "sessions_live_by_user", "sessions", ["user_id"], schema=SCHEMA, postgresql_where=sa.text("revoked_at IS NULL")
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 of the opaque token
        sa.Column("family_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.sessions.session_id"), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("rotated_from", sa.String(64)),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("rotated_at", TS),
        sa.Column("revoked_at", TS),
        schema=SCHEMA,
    )
    op.create_index("refresh_tokens_family", "refresh_tokens", ["family_id"], schema=SCHEMA)
    op.create_table(
        "totp_secrets",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),
        sa.Column("secret_ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS),
        sa.Column("last_used_step", sa.BigInteger),  # a code is accepted once: replay of the same step refused
        schema=SCHEMA,
    )
    op.create_table(
        "recovery_codes",
        sa.Column("code_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS),
        schema=SCHEMA,
    )
    op.create_index("recovery_codes_user", "recovery_codes", ["user_id"], schema=SCHEMA)
    op.create_table(
        "mfa_challenges",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), nullable=False),
        sa.Column("amr", JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("consumed_at", TS),
        sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_key_ciphertext", sa.Text, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retired_at", TS),
        schema=SCHEMA,
    )
    # Exactly one current key at a time, enforced by the database (two replicas bootstrapping at once).
    op.create_index(
        "signing_keys_one_current",
        "signing_keys",
        [sa.text("(retired_at IS NULL)")],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_table(
        "login_events",
        sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("user_id", UUID(as_uuid=True), _user_fk()),  # None for an unknown email
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.Text),
        sa.Column("country", sa.String(2)),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("new_device", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=SCHEMA,
    )
    op.create_index("login_events_user_time", "login_events", ["user_id", "event_id"], schema=SCHEMA)
    op.create_table(
        "known_devices",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),
        sa.Column("device_hash", sa.String(64), primary_key=True),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "ip_allow_list",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),
        sa.Column("cidr", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        schema=SCHEMA,
    )
    op.create_table(
        "tax_profiles",
        sa.Column("user_id", UUID(as_uuid=True), _user_fk(), primary_key=True),
        sa.Column("form", sa.String(8), nullable=False),
        sa.Column("legal_name", sa.Text, nullable=False),
        sa.Column("tin_ciphertext", sa.Text, nullable=False),  # envelope: wrapped data key + nonce + ciphertext
        sa.Column("tin_last4", sa.String(4), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("form IN ('w9', 'w8ben')", name="tax_profiles_form_check"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "tax_profiles",
        "ip_allow_list",
        "known_devices",
        "login_events",
        "signing_keys",
        "mfa_challenges",
        "recovery_codes",
        "totp_secrets",
        "refresh_tokens",
        "sessions",
        "used_verification_tokens",
        "credentials",
        "users",
    ):
        op.drop_table(table, schema=SCHEMA)
