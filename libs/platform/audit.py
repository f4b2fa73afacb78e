"""Append-only, hash-chained audit log, written in the same transaction as the change it records.

Each record's hash covers its content and the previous record's hash, so editing or deleting a record breaks the
chain from there on (`verify_chain` finds it). Appends in one schema are serialised with a transaction-scoped
advisory lock so two concurrent transactions cannot both chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.audit import AuditEntry
from libs.platform.db import to_json
from libs.platform.tables import platform_tables

GENESIS = "0" * 64


def _digest(prev_hash: str, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _content(entry: AuditEntry) -> dict[str, Any]:
    return {
        "occurred_at": entry.occurred_at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "ip": entry.ip,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "before": to_json(entry.before),
        "after": to_json(entry.after),
    }


class SqlAlchemyAuditLog:
    def __init__(self, session: AsyncSession, schema: str) -> None:
        self._session = session
        self._table = platform_tables(schema)["audit_log"]
        self._lock_key = zlib.crc32(f"audit:{schema}".encode())

    async def append(self, entry: AuditEntry) -> str:
        await self._session.execute(select(func.pg_advisory_xact_lock(self._lock_key)))
        t = self._table
        prev = (await self._session.execute(select(t.c.hash).order_by(t.c.id.desc()).limit(1))).scalar()
        prev_hash = prev or GENESIS
        content = _content(entry)
        digest = _digest(prev_hash, content)
        await self._session.execute(
            t.insert().values(
                occurred_at=entry.occurred_at,
                actor_id=entry.actor_id,
                actor_role=entry.actor_role,
                ip=entry.ip,
                action=entry.action,
                subject_type=entry.subject_type,
                subject_id=entry.subject_id,
                before=content["before"],
                after=content["after"],
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        return digest


async def verify_chain(session: AsyncSession, schema: str) -> int | None:
    """Return the id of the first record whose hash does not match its content and predecessor, or None."""
    t = platform_tables(schema)["audit_log"]
    prev_hash = GENESIS
    for row in (await session.execute(select(t).order_by(t.c.id))).mappings():
        content = {
            "occurred_at": row["occurred_at"].isoformat(),
            "actor_id": row["actor_id"],
            "actor_role": row["actor_role"],
            "ip": row["ip"],
            "action": row["action"],
            "subject_type": row["subject_type"],
            "subject_id": row["subject_id"],
            "before": row["before"],
            "after": row["after"],
        }
        if row["prev_hash"] != prev_hash or _digest(prev_hash, content) != row["hash"]:
            return row["id"]
        prev_hash = row["hash"]
    return None
