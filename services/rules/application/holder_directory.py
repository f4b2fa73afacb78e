"""Who holds what, kept in the process between batches so that a quote finds its holders without a query (ADR 0068).

The group commit moves every account that holds a quoted symbol. Reading those accounts from PostgreSQL on every
batch costs a row per holder per batch (thousands of rows a second at the target load), so the directory keeps, for
each monitored account with an open position, what a batch needs before it restores a state: its ids, attempt,
version, last and saved events and held symbols. It is brought up to date at the start of every batch from the rows
whose change number (a sequence every write of a risk state takes, by trigger) is above the last one seen, read
while the batch holds every quote cursor: every writer of an account holding a symbol has then committed, so what
the directory says of holders is the database's state, not a guess. Accounts that hold nothing, and accounts not
monitored, are dropped from it: a quote does not move them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from services.rules.application.monitored_account import MONITORING, MonitoredAccount


class HolderDirectory:
    def __init__(self) -> None:
        self.seen = 0  # the highest change number applied
        self._accounts: dict[uuid.UUID, MonitoredAccount] = {}
        self._by_symbol: dict[str, set[uuid.UUID]] = {}

    def apply(self, changed: Iterable[MonitoredAccount], seen: int) -> None:
        for account in changed:
            self._drop(account.account_id)
            if account.status == MONITORING and account.held_symbols:
                self._accounts[account.account_id] = account
                for symbol in account.held_symbols:
                    self._by_symbol.setdefault(symbol, set()).add(account.account_id)
        self.seen = max(self.seen, seen)

    def holders(self, symbols: Iterable[str], excluding: set[uuid.UUID]) -> list[MonitoredAccount]:
        """The monitored accounts holding one of `symbols`, in account-id order, less `excluding`. They are the
        directory's own objects, shared: the caller must not change them (a copy is `dataclasses.replace`)."""
        found: set[uuid.UUID] = set()
        for symbol in symbols:
            found |= self._by_symbol.get(symbol, set())
        accounts = self._accounts
        return [accounts[account_id] for account_id in sorted(found - excluding)]

    def _drop(self, account_id: uuid.UUID) -> None:
        old = self._accounts.pop(account_id, None)
        if old is not None:
            for symbol in old.held_symbols:
                holders = self._by_symbol.get(symbol)
                if holders is not None:
                    holders.discard(account_id)

    def __len__(self) -> int:
        return len(self._accounts)
