"""What the simulated platform does: users and trading accounts, fills and positions, quotes, enforcement.

Every state change happens inside `atomic()`: the SQLite transaction commits first and only then are its webhooks
queued, so a call refused halfway changes nothing and announces nothing. Events for an account are numbered in the
order they happened; see docs/integrations.md ("YourPropFirm") for what each field means on the wire.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from devstack.ypf_simulator.config import SimConfig
from devstack.ypf_simulator.market import (
    FEES_PER_SIDE,
    STARTING_PRICES,
    Quote,
    contract_id,
    format_money,
    format_price,
    iso,
    random_step,
    spec_of,
)
from devstack.ypf_simulator.store import Store, dumps
from devstack.ypf_simulator.webhooks import WebhookDispatcher
from libs.domain.errors import InvalidArgument
from libs.domain.instruments import INSTRUMENTS, InstrumentSpec, parse_price

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SIZE_IN_PROGRAM_ID = re.compile(r"(\d+)k$", re.IGNORECASE)  # eval-50k -> 50,000
_AVERAGE_PRICE_PLACES = Decimal("1e-10")


class ApiError(Exception):
    """A refusal with the platform's error body, {"error": message}."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ApiError(400, f"{name} must carry a UTC offset")
    return parsed.astimezone(UTC)


def _price(spec: InstrumentSpec, value: Any) -> Decimal:
    try:
        price = parse_price(spec, value)
    except InvalidArgument as exc:
        raise ApiError(400, str(exc)) from None
    if price <= 0 or not spec.is_on_tick(price):
        raise ApiError(400, f"price {value} is not on {spec.symbol}'s tick grid ({spec.tick_size})")
    return price


def _sign(number: int) -> int:
    return (number > 0) - (number < 0)


@dataclass
class Walk:
    running: bool = False
    tick_rate: float = 1.0  # batches per second
    symbols: list[str] = field(default_factory=lambda: sorted(INSTRUMENTS))
    max_ticks: int = 2  # largest move per batch, in ticks

    def public(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "tickRate": self.tick_rate,
            "symbols": self.symbols,
            "maxTicks": self.max_ticks,
        }


class Platform:
    def __init__(self, store: Store, dispatcher: WebhookDispatcher, config: SimConfig) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.config = config
        self.walk = Walk()
        self.started = datetime.now(UTC)
        self._unsent: list[tuple[str, str, bytes]] | None = None
        self._quote_sequence = 0
        self.quotes: dict[str, Quote] = {
            symbol: Quote(symbol, price, self.started) for symbol, price in STARTING_PRICES.items()
        }
        for symbol, last, timestamp in store.quotes():
            if symbol in self.quotes:
                self.quotes[symbol] = Quote(symbol, Decimal(last), datetime.fromisoformat(timestamp))

    # -- plumbing ---------------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.config.clock_offset_seconds)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        self._unsent = []
        try:
            with self.store.transaction():
                yield
            for event_id, event_type, body in self._unsent:
                self.dispatcher.enqueue(event_id, event_type, body)
        finally:
            self._unsent = None

    def _emit(
        self, event_type: str, account_id: str, sequence: int, occurred_at: datetime, data: dict[str, Any]
    ) -> int:
        """Store an account event in the log (its row id is the global cursor) and queue it for delivery."""
        assert self._unsent is not None, "events are emitted inside atomic()"
        cursor = self.store.last_cursor() + 1
        event_id = f"evt_{uuid.uuid4().hex}"
        envelope = {
            "id": event_id,
            "type": event_type,
            "accountId": account_id,
            "sequence": sequence,
            "cursor": cursor,
            "occurredAt": iso(occurred_at),
            "data": data,
        }
        if event_type == "trade":
            data["cursor"] = cursor
        body = dumps(envelope)
        self.store.append_event(cursor, event_id, event_type, account_id, body)
        self._unsent.append((event_id, event_type, body.encode()))
        return cursor

    def contract(self, symbol: str) -> str:
        return contract_id(symbol, self.started)

    # -- provisioning -----------------------------------------------------------------------------------------------
    def create_user(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        email = body.get("email")
        if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
            raise ApiError(400, "email is missing or not an email address")
        for name in ("firstname", "lastname"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise ApiError(400, f"{name} is required")
        existing = self.store.user_by_email(email.strip())
        if existing is not None:
            raise ApiError(409, "a user with this email already exists", userId=existing["id"])
        now = self.now()
        user = {
            "id": str(uuid.uuid4()),
            "email": email.strip(),
            "firstname": body["firstname"].strip(),
            "lastname": body["lastname"].strip(),
            "country": body.get("country"),
            "createdAt": iso(now),
        }
        # As YourPropFirm's plugin uses it, creating a user with a programId also opens that user's first account.
        program_id = body.get("programId")
        accounts = [] if program_id is None else [self._open_account(user["id"], body)]
        self.store.put_user(user)
        return {**user, "accounts": accounts}

    def create_account(self, user_id: str, body: Any) -> dict[str, Any]:
        if self.store.user(user_id) is None:
            raise ApiError(404, f"no user {user_id}")
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        if body.get("programId") is None:
            raise ApiError(400, "programId is required")
        return self._open_account(user_id, body)

    def user(self, user_id: str) -> dict[str, Any]:
        user = self.store.user(user_id)
        if user is None:
            raise ApiError(404, f"no user {user_id}")
        return {**user, "accounts": [self.public_account(a) for a in self.store.accounts_of(user_id)]}

    def _starting_balance(self, program_id: Any) -> Decimal:
        if not isinstance(program_id, str) or not program_id:
            raise ApiError(400, "programId must be a non-empty string")
        registered = self.store.program_balance(program_id)
        if registered is not None:
            return Decimal(registered)
        size = _SIZE_IN_PROGRAM_ID.search(program_id)
        if size is None:
            raise ApiError(400, f"unknown programId {program_id}")
        return Decimal(size.group(1)) * 1000

    def _open_account(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        balance = self._starting_balance(body.get("programId"))
        count = self.store.one("SELECT COUNT(*) FROM accounts")
        login = str(70_000_001 + int(count[0] if count else 0))
        now = iso(self.now())
        account = {
            "id": str(uuid.uuid4()),
            "userId": user_id,
            "login": login,
            "password": secrets.token_urlsafe(9),
            "programId": body["programId"],
            "mtVersion": body.get("mtVersion"),
            "invoiceId": body.get("InvoiceId"),
            "productId": body.get("ProductId"),
            "addOns": body.get("addOns"),
            "startingBalance": format_money(balance),
            "balance": format_money(balance),
            "realizedPnl": "0.00",
            "fees": "0.00",
            "canTrade": True,
            "status": "active",
            "statusReason": None,
            "sequence": 0,  # the last trade's sequence
            "revision": 0,  # bumped by every position or account snapshot
            "attempt": 1,  # a reset starts the next one
            "createdAt": now,
            "updatedAt": now,
        }
        self.store.put_account(account)
        return {**self.public_account(account), "password": account["password"]}

    def public_account(self, account: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in account.items() if k not in ("password", "sequence", "revision")}
        shown["name"] = account["login"]
        return shown

    def load_account(self, account_id: str) -> dict[str, Any]:
        account = self.store.account(account_id)
        if account is None:
            raise ApiError(404, f"no account {account_id}")
        return account

    def register_program(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("programId"), str):
            raise ApiError(400, "programId (string) and startingBalance (decimal) are required")
        try:
            balance = Decimal(str(body.get("startingBalance")))
        except InvalidOperation:
            raise ApiError(400, "startingBalance must be a decimal") from None
        if not balance.is_finite() or balance <= 0:
            raise ApiError(400, "startingBalance must be positive")
        self.store.put_program(body["programId"], format_money(balance))
        return {"programId": body["programId"], "startingBalance": format_money(balance)}

    # -- trading ----------------------------------------------------------------------------------------------------
    def fill(
        self,
        account_id: str,
        symbol: Any,
        side: Any,
        size: Any,
        price: Any = None,
        occurred_at: Any = None,
        order_id: Any = None,
        *,
        liquidation: bool = False,
    ) -> dict[str, Any]:
        """One execution. Refused for a disabled account unless it is the platform's own liquidation."""
        account = self.load_account(account_id)
        if not account["canTrade"] and not liquidation:
            raise ApiError(409, f"account {account_id} cannot trade ({account['status']}): order refused")
        spec = spec_of(symbol)
        if spec is None:
            raise ApiError(400, f"unknown symbol {symbol!r}; known: {', '.join(sorted(INSTRUMENTS))}")
        if side not in ("buy", "sell"):
            raise ApiError(400, "side must be buy or sell")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ApiError(400, "size must be a positive whole number of contracts")
        fill_price = self.quotes[spec.symbol].last if price is None else _price(spec, price)
        at = self.now() if occurred_at is None else _parse_time(occurred_at, "occurredAt")

        position = self.store.position(account_id, spec.symbol) or {
            "accountId": account_id,
            "symbol": spec.symbol,
            "contractId": self.contract(spec.symbol),
            "lots": [],
            "creationTimestamp": iso(at),
        }
        realized, closed_any = self._apply_to_lots(position, spec, fill_price, size if side == "buy" else -size)
        fees = FEES_PER_SIDE[spec.symbol] * size

        account["sequence"] += 1
        account["balance"] = format_money(Decimal(account["balance"]) + realized - fees)
        account["realizedPnl"] = format_money(Decimal(account["realizedPnl"]) + realized)
        account["fees"] = format_money(Decimal(account["fees"]) + fees)
        account["updatedAt"] = iso(at)
        sequence = account["sequence"]
        trade = {
            "id": f"trd_{uuid.uuid4().hex[:20]}",
            "accountId": account_id,
            "contractId": position["contractId"],
            "symbol": spec.symbol,
            "creationTimestamp": iso(at),
            "price": format_price(fill_price, spec),
            # As on ProjectX, an opening fill ("half-turn") has no P&L; a closing one carries what it realized.
            "profitAndLoss": format_money(realized) if closed_any else None,
            "fees": format_money(fees),
            "side": side,
            "size": size,
            "voided": False,
            "orderId": str(order_id) if order_id is not None else f"ord_{uuid.uuid4().hex[:16]}",
            "sequence": sequence,
        }
        self._emit("trade", account_id, sequence, at, trade)  # sets trade["cursor"]
        self.store.add_trade(trade)

        position["updatedTimestamp"] = iso(at)
        if position["lots"]:
            self.store.put_position(account_id, spec.symbol, position)
        else:
            self.store.delete_position(account_id, spec.symbol)
        account["revision"] += 1
        self._emit("position", account_id, sequence, at, self.public_position(position, account["revision"]))
        account["revision"] += 1
        self.store.put_account(account)
        self._emit("account", account_id, sequence, at, self.snapshot_of(account, at))
        return trade

    @staticmethod
    def _apply_to_lots(
        position: dict[str, Any], spec: InstrumentSpec, price: Decimal, signed_size: int
    ) -> tuple[Decimal, bool]:
        """FIFO: a fill against the position closes its oldest lots first; P&L stays exact whatever the average."""
        lots: list[list[Any]] = position["lots"]
        remaining = signed_size
        realized = Decimal(0)
        closed_any = False
        while remaining and lots and _sign(lots[0][1]) != _sign(remaining):
            lot_price, lot_size = Decimal(lots[0][0]), lots[0][1]
            closing = min(abs(lot_size), abs(remaining))
            realized += spec.pnl(lot_price, price, _sign(lot_size) * closing)
            closed_any = True
            lots[0][1] = lot_size - _sign(lot_size) * closing
            remaining -= _sign(remaining) * closing
            if lots[0][1] == 0:
                lots.pop(0)
        if remaining:
            lots.append([str(price), remaining])
        return realized, closed_any

    def public_position(self, position: dict[str, Any], revision: int) -> dict[str, Any]:
        spec = INSTRUMENTS[position["symbol"]]
        net = sum(lot[1] for lot in position["lots"])
        cost = sum((Decimal(lot[0]) * lot[1] for lot in position["lots"]), Decimal(0))
        last = self.quotes[spec.symbol].last
        return {
            "accountId": position["accountId"],
            "contractId": position["contractId"],
            "symbol": position["symbol"],
            "type": "long" if net > 0 else "short" if net < 0 else "flat",
            "size": abs(net),
            # Display figure (rounded); the exact open P&L is openPnl, and fills are the record.
            "averagePrice": self._average(cost, net, spec),
            "openPnl": format_money((last * net - cost) * spec.point_value),
            "markPrice": format_price(last, spec),
            "creationTimestamp": position["creationTimestamp"],
            "updatedTimestamp": position.get("updatedTimestamp", position["creationTimestamp"]),
            "revision": revision,
        }

    @staticmethod
    def _average(cost: Decimal, net: int, spec: InstrumentSpec) -> str | None:
        if not net:
            return None
        average = cost / net
        if spec.is_on_tick(average):
            return format_price(average, spec)
        return str(average.quantize(_AVERAGE_PRICE_PLACES).normalize())

    def _open_pnl(self, account_id: str) -> Decimal:
        total = Decimal(0)
        for position in self.store.positions(account_id):
            spec = INSTRUMENTS[position["symbol"]]
            last = self.quotes[spec.symbol].last
            for lot_price, lot_size in position["lots"]:
                total += spec.pnl(Decimal(lot_price), last, lot_size)
        return total

    def snapshot_of(self, account: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        open_pnl = self._open_pnl(account["id"])
        return {
            "accountId": account["id"],
            "name": account["login"],
            "startingBalance": account["startingBalance"],
            "balance": account["balance"],
            "realizedPnl": account["realizedPnl"],
            "fees": account["fees"],
            "openPnl": format_money(open_pnl),
            "equity": format_money(Decimal(account["balance"]) + open_pnl),
            "canTrade": account["canTrade"],
            "status": account["status"],
            "statusReason": account["statusReason"],
            "attempt": account.get("attempt", 1),
            "sequence": account["sequence"],
            "revision": account["revision"],
            "timestamp": iso(at or self.now()),
        }

    def snapshot(self, account_id: str) -> dict[str, Any]:
        return self.snapshot_of(self.load_account(account_id))

    def positions(self, account_id: str) -> dict[str, Any]:
        account = self.load_account(account_id)
        return {
            "accountId": account_id,
            "sequence": account["sequence"],
            "positions": [self.public_position(p, account["revision"]) for p in self.store.positions(account_id)],
        }

    def trades(self, account_id: str, after_sequence: int, limit: int) -> dict[str, Any]:
        account = self.load_account(account_id)
        page = self.store.trades_of(account_id, after_sequence, limit)
        last_returned = page[-1]["sequence"] if page else after_sequence
        return {
            "accountId": account_id,
            "trades": page,
            "lastSequence": account["sequence"],
            "hasMore": last_returned < account["sequence"],
        }

    def all_trades(self, after_cursor: int, limit: int) -> dict[str, Any]:
        page = self.store.trades_after(after_cursor, limit + 1)
        return {
            "trades": page[:limit],
            "nextCursor": page[:limit][-1]["cursor"] if page else after_cursor,
            "hasMore": len(page) > limit,
        }

    def events(self, after_cursor: int, limit: int, types: list[str] | None) -> dict[str, Any]:
        page = [json.loads(body) for body in self.store.events_after(after_cursor, limit + 1, types)]
        return {
            "events": page[:limit],
            "nextCursor": page[:limit][-1]["cursor"] if page else after_cursor,
            "hasMore": len(page) > limit,
        }

    # -- enforcement ------------------------------------------------------------------------------------------------
    def flatten(self, account_id: str, command_id: str) -> dict[str, Any]:
        """Close every open position at the current quote, as the platform's liquidation does (allowed even when the
        account is disabled, which is the usual order: disable, then flatten, or the reverse)."""
        self.load_account(account_id)
        closed = []
        for index, position in enumerate(self.store.positions(account_id)):
            net = sum(lot[1] for lot in position["lots"])
            if net == 0:
                continue
            closed.append(
                self.fill(
                    account_id,
                    position["symbol"],
                    "sell" if net > 0 else "buy",
                    abs(net),
                    order_id=f"flatten-{command_id}-{index + 1}",
                    liquidation=True,
                )
            )
        return {"accountId": account_id, "closed": closed, "account": self.snapshot(account_id)}

    def set_trading(self, account_id: str, can_trade: bool, reason: Any) -> dict[str, Any]:
        account = self.load_account(account_id)
        if account["canTrade"] != can_trade:  # already so: nothing changes and nothing is announced
            at = self.now()
            account["canTrade"] = can_trade
            account["status"] = "active" if can_trade else "disabled"
            account["statusReason"] = None if can_trade else (str(reason) if reason else "disabled by the firm")
            account["revision"] += 1
            account["updatedAt"] = iso(at)
            self.store.put_account(account)
            self._emit("account", account_id, account["sequence"], at, self.snapshot_of(account, at))
        return self.snapshot(account_id)

    def reset(self, account_id: str, command_id: str, starting_balance: Any = None) -> dict[str, Any]:
        """A new attempt on the same account (a paid reset): open positions are closed at the quote (their P&L
        belongs to the old attempt), then balance, P&L and fees start over and trading is enabled. Sequences carry
        on, so nothing a consumer has deduplicated or ordered is reused. With `starting_balance` (the firm scaled a
        funded account up) the attempt starts at that size and it becomes the account's starting balance."""
        # Validated before anything moves: a refused reset leaves positions open and the account as it was.
        new_start = None if starting_balance is None else _starting_balance(starting_balance)
        self.load_account(account_id)
        closed = self.flatten(account_id, command_id)["closed"]
        account = self.load_account(account_id)
        at = self.now()
        if new_start is not None:
            account["startingBalance"] = new_start
        account.update(
            balance=account["startingBalance"],
            realizedPnl="0.00",
            fees="0.00",
            canTrade=True,
            status="active",
            statusReason=None,
            attempt=account.get("attempt", 1) + 1,
            updatedAt=iso(at),
        )
        account["revision"] += 1
        self.store.put_account(account)
        self._emit("account", account_id, account["sequence"], at, self.snapshot_of(account, at))
        return {"accountId": account_id, "closed": closed, "account": self.snapshot(account_id)}

    # -- quotes -----------------------------------------------------------------------------------------------------
    def latest_quotes(self, symbols: list[str] | None) -> dict[str, Any]:
        wanted = symbols or sorted(self.quotes)
        unknown = [s for s in wanted if s not in self.quotes]
        if unknown:
            raise ApiError(400, f"unknown symbols: {', '.join(unknown)}")
        return {"quotes": [self.quotes[s].public(self.contract(s)) for s in wanted]}

    def set_quotes(self, changes: list[tuple[str, Any]], occurred_at: Any = None) -> dict[str, Any]:
        at = self.now() if occurred_at is None else _parse_time(occurred_at, "occurredAt")
        moved = []
        for symbol, price in changes:
            spec = spec_of(symbol)
            if spec is None:
                raise ApiError(400, f"unknown symbol {symbol!r}")
            moved.append((spec.symbol, _price(spec, price)))
        for symbol, price in moved:
            self.quotes[symbol] = Quote(symbol, price, at)
        return self._publish_quotes([symbol for symbol, _ in moved], at)

    def walk_tick(self) -> dict[str, Any]:
        at = self.now()
        for symbol in self.walk.symbols:
            spec = INSTRUMENTS[symbol]
            stepped = random_step(self.quotes[symbol].last, spec, self.config.rng, self.walk.max_ticks)
            self.quotes[symbol] = Quote(symbol, stepped, at)
        return self._publish_quotes(self.walk.symbols, at)

    def _publish_quotes(self, symbols: list[str], at: datetime) -> dict[str, Any]:
        """One `quote` webhook per batch. Marks are not part of the account event log: the latest quote supersedes
        the others, and GET /client/v1/quotes/latest is their reconciliation."""
        quotes = [self.quotes[s].public(self.contract(s)) for s in symbols]
        with self.store.transaction():
            for symbol in symbols:
                quote = self.quotes[symbol]
                self.store.put_quote(symbol, str(quote.last), quote.timestamp.isoformat())
        # Increasing across restarts too (milliseconds since the epoch, or one more than the last batch).
        self._quote_sequence = max(self._quote_sequence + 1, int(time.time() * 1000))
        envelope = {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "quote",
            "accountId": None,
            "sequence": self._quote_sequence,
            "cursor": None,
            "occurredAt": iso(at),
            "data": {"quotes": quotes},
        }
        self.dispatcher.enqueue(envelope["id"], "quote", dumps(envelope).encode())
        return {"sequence": self._quote_sequence, "quotes": quotes}


def _starting_balance(value: Any) -> str:
    """A new starting balance on the wire: a positive decimal string (never a JSON number, which may be a float)."""
    if not isinstance(value, str):
        raise ApiError(400, "startingBalance must be a decimal string")
    try:
        balance = Decimal(value)
    except InvalidOperation:
        raise ApiError(400, "startingBalance must be a decimal") from None
    if not balance.is_finite() or balance <= 0:
        raise ApiError(400, "startingBalance must be positive")
    return format_money(balance)
