"""The stand-in's state: Stripe objects by id, idempotency records and events, in one SQLite file.

SQLite rather than a JSON file because a promotion-launch benchmark creates thousands of objects and rewriting one
document per request would dominate. It is the stand-in's own bookkeeping, not a Dynasty data store.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devstack.stripe_standin.errors import missing

_ALPHABET = string.ascii_letters + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    api_key TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (api_key, key)
);
"""


def new_id(prefix: str, length: int = 24) -> str:
    # The slight modulo bias is irrelevant for ids that only need to be unique; secrets.choice per character
    # was a visible share of a purchase burst's CPU.
    return prefix + "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in secrets.token_bytes(length))


class Store:
    """Objects keyed by id with their kind (the Stripe `object` value). Lists come newest first, as Stripe's do."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # uvicorn runs handlers on one loop, but the test thread may read too

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All of one request's writes or none, as a Stripe API call is. Handlers are synchronous, so nothing else
        runs on the event loop between BEGIN and COMMIT."""
        with self._lock:
            self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            with self._lock:
                self._db.execute("ROLLBACK")
            raise
        with self._lock:
            self._db.execute("COMMIT")

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._db.execute(
                "INSERT INTO objects (id, kind, body) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body",
                (obj["id"], obj["object"], json.dumps(obj)),
            )
        return obj

    def get(self, object_id: str, kind: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT kind, body FROM objects WHERE id = ?", (object_id,)).fetchone()
        if row is None or (kind is not None and row[0] != kind):
            return None
        return json.loads(row[1])

    def list(
        self,
        kind: str,
        *,
        limit: int,
        starting_after: str | None = None,
        ending_before: str | None = None,
        where: Any = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page newest first; `where` filters in Python (the stand-in holds thousands, not millions)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, body FROM objects WHERE kind = ? ORDER BY seq DESC", (kind,)
            ).fetchall()
        items = [(seq, json.loads(body)) for seq, _id, body in rows]
        if where is not None:
            items = [(seq, obj) for seq, obj in items if where(obj)]
        if starting_after is not None:
            cursor = self._seq_of(starting_after)
            items = [(seq, obj) for seq, obj in items if seq < cursor]
        if ending_before is not None:  # the page just before the cursor: the oldest `limit` newer objects
            cursor = self._seq_of(ending_before)
            items = [(seq, obj) for seq, obj in items if seq > cursor]
            page = items[-limit:]
            return [obj for _seq, obj in page], len(items) > limit
        page = items[:limit]
        return [obj for _seq, obj in page], len(items) > limit

    def _seq_of(self, object_id: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM objects WHERE id = ?", (object_id,)).fetchone()
        if row is None:
            raise missing("object", object_id, param="starting_after")
        return int(row[0])

    # -- idempotency ------------------------------------------------------------------------------------------------
    def idempotent_result(self, api_key: str, key: str) -> tuple[str, int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, status, body FROM idempotency WHERE api_key = ? AND key = ?", (api_key, key)
            ).fetchone()
        return (row[0], int(row[1]), row[2]) if row else None

    def remember_result(self, api_key: str, key: str, fingerprint: str, status: int, body: str, created: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (api_key, key, fingerprint, status, body, created),
            )
