"""Restored AccountRisk objects kept in the process between batches, so the JSONB snapshot is decoded only when
another writer (another replica, a review, a clock tick, the per-event path) moved the account.

The database stays the source of truth: an entry is used only when the version (and effective last event) read
from the account's row equals the entry's, and every write of the row bumps the version. A batch changes the
entries it uses in place (copying a few thousand states per batch cost more than the batch's own work); if the
batch's transaction fails, it forgets every entry it used, so a rolled-back batch leaves nothing behind that
another batch could mistake for committed state. One batch at a time uses the cache (the group commit's single
worker).
"""

from __future__ import annotations

import uuid


class RiskCache:
    """account id -> its working state (ingest_batch._Working: attempt, version, last, the AccountRisk and its window),
    kept between batches and changed in place by the batch that uses it; a batch that fails forgets the states it
    used, so nothing uncommitted is ever trusted."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._entries: dict[uuid.UUID, object] = {}
        self._capacity = capacity
        self.hits = 0
        self.misses = 0

    def get(self, account_id: uuid.UUID, attempt: int, version: int, last: tuple | None):
        """The state if it is still the row's (same attempt, version and effective last event), else None."""
        entry = self._entries.get(account_id)
        if entry is None or entry.attempt != attempt or entry.version != version or entry.last != last:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, account_id: uuid.UUID, entry) -> None:
        entries = self._entries
        entries[account_id] = entry
        if len(entries) > self._capacity:
            # The oldest inserted tenth goes (a dict keeps insertion order): cheap, and a miss only costs a restore.
            for stale in list(entries)[: self._capacity // 10]:
                del entries[stale]

    def forget(self, account_id: uuid.UUID) -> None:
        self._entries.pop(account_id, None)

    def __len__(self) -> int:
        return len(self._entries)
