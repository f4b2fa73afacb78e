"""YourPropFirm webhook envelopes (docs/integrations.md, "Webhooks") turned into what the engine is told.

A malformed envelope is refused with InvalidArgument naming the field and the event's position in the batch; the
caller logs it with a hash of its bytes (never the bytes: they may carry account data).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from libs.domain.errors import InvalidArgument
from libs.domain.instruments import INSTRUMENTS, parse_price
from libs.domain.money import MoneyError, to_decimal
from services.rules.application.incoming import ACCOUNT, EVENT_TYPES, POSITION, QUOTE, TRADE, IncomingEvent
from services.rules.domain.trade_events import Fill, Mark, Side


class MalformedEvent(InvalidArgument):
    def __init__(self, message: str, *, index: int, payload_sha256: str) -> None:
        super().__init__(
            f"event {index}: {message}", field=f"events[{index}]", reason="MALFORMED_EVENT", sha256=payload_sha256
        )
        self.payload_sha256 = payload_sha256


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _instant(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or value not in INSTRUMENTS:
        raise ValueError(f"unknown symbol {value!r}")
    return value


def _trade(data: Any) -> tuple[Fill, str | None]:
    if not isinstance(data, dict):
        raise ValueError("data must be a trade object")
    symbol = _symbol(data.get("symbol"))
    side = data.get("side")
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    size = data.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"size must be a positive whole number, got {size!r}")
    price = parse_price(INSTRUMENTS[symbol], data.get("price"))
    fees = data.get("fees")
    fee = None if fees is None else to_decimal(fees, field="fees")
    at = _instant(data.get("creationTimestamp"), "creationTimestamp")
    order_id = data.get("orderId")
    return Fill(at=at, symbol=symbol, side=Side(side), qty=size, price=price, fee=fee), (
        order_id if isinstance(order_id, str) else None
    )


def _marks(data: Any, at: datetime) -> tuple[Mark, ...]:
    quotes = data.get("quotes") if isinstance(data, dict) else None
    if not isinstance(quotes, list) or not quotes:
        raise ValueError("data.quotes must be a non-empty list")
    marks = []
    for quote in quotes:
        if not isinstance(quote, dict):
            raise ValueError("each quote must be an object")
        symbol = _symbol(quote.get("symbol"))
        price = parse_price(INSTRUMENTS[symbol], quote.get("lastPrice"))
        quoted_at = _instant(quote["timestamp"], "timestamp") if quote.get("timestamp") else at
        marks.append(Mark(at=quoted_at, symbol=symbol, price=price))
    return tuple(marks)


def parse_envelope(body: bytes, index: int = 0) -> IncomingEvent:
    digest = payload_hash(body)
    try:
        envelope = json.loads(body)
    except ValueError as exc:
        raise MalformedEvent(str(exc), index=index, payload_sha256=digest) from None
    try:
        # Valid JSON already: stored as received rather than encoded again (UTF-16 or -32 bodies are re-encoded).
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else None
    except UnicodeDecodeError:
        text = None
    return _parse(envelope, digest, index, text)


def _parse(envelope: Any, digest: str, index: int, text: str | None = None) -> IncomingEvent:
    try:
        if not isinstance(envelope, dict):
            raise ValueError("the envelope must be a JSON object")
        event_id = envelope.get("id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
            raise ValueError("id must be a non-empty string of at most 128 characters")
        event_type = envelope.get("type")
        if event_type not in EVENT_TYPES:
            raise ValueError(f"type must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
        at = _instant(envelope.get("occurredAt"), "occurredAt")
        sequence = envelope.get("sequence")
        if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
            raise ValueError("sequence must be a whole number")
        data = envelope.get("data")
        account_id = envelope.get("accountId")
        if event_type in (TRADE, POSITION, ACCOUNT) and (not isinstance(account_id, str) or not account_id):
            raise ValueError(f"a {event_type} event needs accountId")
        fill, order_id, marks = None, None, ()
        if event_type == TRADE:
            fill, order_id = _trade(data)
            at = fill.at
        elif event_type == QUOTE:
            marks = _marks(data, at)
            account_id = None
    except (ValueError, MoneyError, InvalidArgument, KeyError) as exc:
        message = exc.message if isinstance(exc, InvalidArgument) else str(exc)
        raise MalformedEvent(message, index=index, payload_sha256=digest) from None
    return IncomingEvent(
        provider_event_id=event_id,
        event_type=event_type,
        platform_account_id=account_id,
        sequence=sequence,
        at=at,
        payload=envelope,
        payload_sha256=digest,
        fill=fill,
        marks=marks,
        order_id=order_id,
        payload_json=text,
    )


def stored_fill_or_marks(envelope: dict) -> tuple[Fill | None, tuple[Mark, ...]]:
    """The engine inputs of an envelope already accepted once (a replay reads them back from the store)."""
    # Parsed from the stored JSON as it is (no re-encoding: replays read many of these); its hash is not needed.
    event = _parse(envelope, "", 0)
    return event.fill, event.marks
