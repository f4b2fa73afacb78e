"""The simulator's state in one SQLite file under --data-dir: users, trading accounts, trades, positions, the event
log (whose row id is the global cursor), idempotency records, enforcement commands received, and the latest quotes.

Objects are JSON documents keyed by id; the columns beside them exist only for lookups and ordering. It is the
stand-in's own bookkeeping, not a Dynasty data store.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_user ON accounts (user_id);
CREATE TABLE IF NOT EXISTS trades (
    cursor INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (account_id, sequence)
);
CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account_id, symbol)
);
CREATE TABLE IF NOT EXISTS events (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    account_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_account ON events (account_id, cursor);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quotes (
    symbol TEXT PRIMARY KEY,
    last TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS programs (
    program_id TEXT PRIMARY KEY,
    starting_balance TEXT NOT NULL
);
"""


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=_decimal_as_string)


def _decimal_as_string(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Store:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # Handlers run on uvicorn's one event loop, but the random walk's task and a test thread may call in too.
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All of one call's writes or none: a request refused halfway leaves no half-made account or fill."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- documents --------------------------------------------------------------------------------------------------
    def user(self, user_id: str) -> dict[str, Any] | None:
        row = self.one("SELECT body FROM users WHERE id = ?", (user_id,))
        return json.loads(row[0]) if row else None

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        row = self.one("SELECT body FROM users WHERE email = ?", (email,))
        return json.loads(row[0]) if row else None

    def put_user(self, user: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO users (id, email, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (user["id"], user["email"], dumps(user)),
        )

    def account(self, account_id: str) -> dict[str, Any] | None:
        row = self.one("SELECT body FROM accounts WHERE id = ?", (account_id,))
        return json.loads(row[0]) if row else None

    def accounts_of(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.all("SELECT body FROM accounts WHERE user_id = ? ORDER BY rowid", (user_id,))
        return [json.loads(row[0]) for row in rows]

    def put_account(self, account: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO accounts (id, user_id, body) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (account["id"], account["userId"], dumps(account)),
        )

    def positions(self, account_id: str) -> list[dict[str, Any]]:
        rows = self.all("SELECT body FROM positions WHERE account_id = ? ORDER BY symbol", (account_id,))
        return [json.loads(row[0]) for row in rows]

    def position(self, account_id: str, symbol: str) -> dict[str, Any] | None:
        row = self.one("SELECT body FROM positions WHERE account_id = ? AND symbol = ?", (account_id, symbol))
        return json.loads(row[0]) if row else None

    def put_position(self, account_id: str, symbol: str, position: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO positions (account_id, symbol, body) VALUES (?, ?, ?) "
            "ON CONFLICT (account_id, symbol) DO UPDATE SET body = excluded.body",
            (account_id, symbol, dumps(position)),
        )

    def delete_position(self, account_id: str, symbol: str) -> None:
        self.execute("DELETE FROM positions WHERE account_id = ? AND symbol = ?", (account_id, symbol))

    def accounts_holding(self, symbol: str) -> list[str]:
        return [row[0] for row in self.all("SELECT account_id FROM positions WHERE symbol = ?", (symbol,))]

    # -- the event log and trades -------------------------------------------------------------------------------------
    def append_event(self, cursor: int, event_id: str, event_type: str, account_id: str | None, body: str) -> None:
        self.execute(
            "INSERT INTO events (cursor, id, type, account_id, body) VALUES (?, ?, ?, ?, ?)",
            (cursor, event_id, event_type, account_id, body),
        )

    def events_after(self, cursor: int, limit: int, types: list[str] | None) -> list[str]:
        if types:
            marks = ",".join("?" for _ in types)
            rows = self.all(
                f"SELECT body FROM events WHERE cursor > ? AND type IN ({marks}) ORDER BY cursor LIMIT ?",  # noqa: S608  placeholders only
                (cursor, *types, limit),
            )
        else:
            rows = self.all("SELECT body FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?", (cursor, limit))
        return [row[0] for row in rows]

    def add_trade(self, trade: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO trades (cursor, id, account_id, sequence, body) VALUES (?, ?, ?, ?, ?)",
            (trade["cursor"], trade["id"], trade["accountId"], trade["sequence"], dumps(trade)),
        )

    def trades_of(self, account_id: str, after_sequence: int, limit: int) -> list[dict[str, Any]]:
        rows = self.all(
            "SELECT body FROM trades WHERE account_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
            (account_id, after_sequence, limit),
        )
        return [json.loads(row[0]) for row in rows]

    def trades_after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        rows = self.all("SELECT body FROM trades WHERE cursor > ? ORDER BY cursor LIMIT ?", (cursor, limit))
        return [json.loads(row[0]) for row in rows]

    def last_cursor(self) -> int:
        row = self.one("SELECT COALESCE(MAX(cursor), 0) FROM events")
        return int(row[0]) if row else 0

    # -- idempotency, commands, quotes, programs --------------------------------------------------------------------
    def idempotent_answer(self, scope: str, key: str) -> tuple[str, int, str] | None:
        row = self.one("SELECT fingerprint, status, body FROM idempotency WHERE scope = ? AND key = ?", (scope, key))
        return (row[0], int(row[1]), row[2]) if row else None

    def remember_answer(self, scope: str, key: str, fingerprint: str, status: int, body: str) -> None:
        self.execute(
            "INSERT OR IGNORE INTO idempotency (scope, key, fingerprint, status, body) VALUES (?, ?, ?, ?, ?)",
            (scope, key, fingerprint, status, body),
        )

    def record_command(self, account_id: str, command: dict[str, Any]) -> None:
        self.execute("INSERT INTO commands (account_id, body) VALUES (?, ?)", (account_id, dumps(command)))

    def commands(self, account_id: str | None) -> list[dict[str, Any]]:
        if account_id:
            rows = self.all("SELECT body FROM commands WHERE account_id = ? ORDER BY seq", (account_id,))
        else:
            rows = self.all("SELECT body FROM commands ORDER BY seq")
        return [json.loads(row[0]) for row in rows]

    def quotes(self) -> list[tuple[str, str, str]]:
        return [(row[0], row[1], row[2]) for row in self.all("SELECT symbol, last, timestamp FROM quotes")]

    def put_quote(self, symbol: str, last: str, timestamp: str) -> None:
        self.execute(
            "INSERT INTO quotes (symbol, last, timestamp) VALUES (?, ?, ?) "
            "ON CONFLICT (symbol) DO UPDATE SET last = excluded.last, timestamp = excluded.timestamp",
            (symbol, last, timestamp),
        )

    def program_balance(self, program_id: str) -> str | None:
        row = self.one("SELECT starting_balance FROM programs WHERE program_id = ?", (program_id,))
        return row[0] if row else None

    def put_program(self, program_id: str, starting_balance: str) -> None:
        self.execute(
            "INSERT INTO programs (program_id, starting_balance) VALUES (?, ?) "
            "ON CONFLICT (program_id) DO UPDATE SET starting_balance = excluded.starting_balance",
            (program_id, starting_balance),
        )
