"""The KYC and OAuth tables of the identity schema (migration identity_0004), on the schema's shared metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Identity, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from services.identity.adapters.sql.tables import TS, metadata

kyc_cases = Table(
    "kyc_cases",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("verification_session_id", String(255)),
    Column("attempts", Integer, nullable=False),
    Column("last_event_at", TS),
    Column("last_event_rank", Integer, nullable=False),
    Column("last_error_code", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("row_version", Integer, nullable=False),
)
kyc_notes = Table(
    "kyc_notes",
    metadata,
    Column("note_id", BigInteger, Identity(), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("reviewer_id", String(64), nullable=False),
    Column("decision", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", TS, nullable=False),
)
kyc_stripe_events = Table(
    "kyc_stripe_events",
    metadata,
    Column("stripe_event_id", String(255), primary_key=True),
    Column("event_type", String(128), nullable=False),
    Column("verification_session_id", String(255), nullable=False),
    Column("event_created_at", TS, nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("received_at", TS, nullable=False),
)
kyc_documents = Table(
    "kyc_documents",
    metadata,
    Column("document_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("object_key", String(512), nullable=False),
    Column("uploaded_at", TS, nullable=False),
)
oauth_identities = Table(
    "oauth_identities",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("email_at_link", String(320)),
    Column("linked_at", TS, nullable=False),
    Column("last_used_at", TS, nullable=False),
)
