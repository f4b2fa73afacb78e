"""Restored AccountRisk objects kept in the process between batches, so the JSONB snapshot is decoded only when
another writer (another replica, a review, a clock tick, the per-event path) moved the account.

The database stays the source of truth: an entry is used only when the version read from the account's row under
its lock equals the version the entry was stored at, and every write of the row bumps the version. Entries are
taken out before a batch works on them and put back only after its commit, so a rolled-back batch leaves nothing
behind that another batch could mistake for committed state.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from services.rules.domain.account_risk import AccountRisk


@dataclass
class CachedRisk:
    risk: AccountRisk
    rule_set: dict  # the account's rule set as stored (lock_batch does not read it: it is JSON)
    attempt: int
    version: int
    # The effective last event the state describes (ADR 0068): quotes that decided nothing move the quote cursors,
    # not the row's version, so an entry is also checked against the cursors of the symbols it holds.
    last: tuple | None
    # The state is `base` (a snapshot at `base_at`) with `since` replayed onto it: a late event after base_at is
    # re-evaluated in memory from them.
    base: dict | None
    base_at: tuple | None
    since: list
    saved_at: tuple | None  # where the row's snapshot stands
    lazy: int  # quotes applied after it, unsaved


class RiskCache:
    def __init__(self, capacity: int = 50_000) -> None:
        self._entries: OrderedDict[uuid.UUID, CachedRisk] = OrderedDict()
        self._capacity = capacity
        self.hits = 0
        self.misses = 0

    def take(self, account_id: uuid.UUID, attempt: int, version: int, last: tuple | None) -> CachedRisk | None:
        """The entry if it is still the row's state (same version, same effective last event), removed from the
        cache while the caller works on it."""
        entry = self._entries.pop(account_id, None)
        if entry is None or entry.attempt != attempt or entry.version != version or entry.last != last:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, account_id: uuid.UUID, entry: CachedRisk) -> None:
        self._entries[account_id] = entry
        self._entries.move_to_end(account_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget(self, account_id: uuid.UUID) -> None:
        self._entries.pop(account_id, None)

    def __len__(self) -> int:
        return len(self._entries)
