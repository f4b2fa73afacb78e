"""The identity schema's own tables (the migrations create them; this is how the code addresses them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "identity"
metadata = MetaData(schema=SCHEMA)
TS = DateTime(timezone=True)

users = Table(
    "users",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_reason", Text, nullable=False),
    Column("email_verified_at", TS),
    Column("mfa_enabled", Boolean, nullable=False),
    Column("kyc_status", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("row_version", Integer, nullable=False),
)
credentials = Table(
    "credentials",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)
used_verification_tokens = Table(
    "used_verification_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("used_at", TS, nullable=False),
)
sessions = Table(
    "sessions",
    metadata,
    Column("session_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("amr", JSONB, nullable=False),
    Column("mfa_at", TS),
    Column("ip", String(64)),
    Column("user_agent", Text),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("revoke_reason", String(32)),
)
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("rotated_from", String(64)),
    Column("issued_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("rotated_at", TS),
    Column("revoked_at", TS),
)
totp_secrets = Table(
    "totp_secrets",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("secret_ciphertext", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("confirmed_at", TS),
    Column("last_used_step", BigInteger),
)
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("code_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("used_at", TS),
)
mfa_challenges = Table(
    "mfa_challenges",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("amr", JSONB, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("consumed_at", TS),
    Column("failed_attempts", Integer, nullable=False),
)
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_key_ciphertext", Text, nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("activates_at", TS, nullable=False),
    Column("retired_at", TS),
)
login_events = Table(
    "login_events",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=True),
    Column("user_id", UUID(as_uuid=True)),
    Column("occurred_at", TS, nullable=False),
    Column("ip", String(64)),
    Column("user_agent", Text),
    Column("country", String(2)),
    Column("succeeded", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("new_device", Boolean, nullable=False),
)
known_devices = Table(
    "known_devices",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("device_hash", String(64), primary_key=True),
    Column("first_seen_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
)
ip_allow_list = Table(
    "ip_allow_list",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("cidr", String(64), primary_key=True),
    Column("created_at", TS, nullable=False),
)
tax_profiles = Table(
    "tax_profiles",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("form", String(8), nullable=False),
    Column("legal_name", Text, nullable=False),
    Column("tin_ciphertext", Text, nullable=False),
    Column("tin_last4", String(4), nullable=False),
    Column("country", String(2), nullable=False),
    Column("address", Text, nullable=False),
    Column("updated_at", TS, nullable=False),
)
# Review flags (0005): raised by events (a chargeback), cleared by staff; never deleted.
review_flags = Table(
    "review_flags",
    metadata,
    Column("flag_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("source", String(64), nullable=False),
    Column("source_ref", String(255), nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("raised_at", TS, nullable=False),
    Column("cleared_at", TS),
    Column("cleared_by", String(128)),
    Column("clear_reason", Text),
    Column("row_version", Integer, nullable=False),
)
