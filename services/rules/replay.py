"""Replay a scenario file through the rules engine and print the result as JSON.

    python -m services.rules.replay SCENARIO.json

Support staff use it to explain a decision ("why was my account failed at 10:01?") and to try a what-if; the
tests use it to run the scenarios of shared/scenarios. The format is described in shared/scenarios/README.md.

Exit status 0 on a replay, 2 on a file it refuses (unreadable or malformed JSON, a missing field, an unknown
symbol, a non-decimal amount, a timestamp without offset, a non-positive quantity, events out of time order),
with one line on stderr that names the problem and the offending event's index.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from libs.domain.instruments import INSTRUMENTS, InvalidPrice, parse_price
from libs.domain.money import MoneyError, to_decimal
from libs.domain.rule_set import RuleSet, RuleSetError, parse_rule_set
from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.decisions import (
    Boundary,
    BreachDetected,
    Decision,
    EndOfDayRecorded,
    OrderAccepted,
    OrderRejected,
    PhasePassed,
    PositionsLiquidated,
    Trigger,
    ViolationRecorded,
)
from services.rules.domain.trade_events import (
    Fill,
    Mark,
    NewsEvent,
    Order,
    Side,
    TimePassed,
    TradeEvent,
    Withdrawal,
)

EXIT_REFUSED = 2


class ScenarioRefused(ValueError):
    """A scenario file the replay will not run; the message is the one line shown to the user."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    rule_set: RuleSet
    news: tuple[NewsEvent, ...]
    events: tuple[TradeEvent, ...]


# -- parsing -------------------------------------------------------------------------------------------------
def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ScenarioRefused(f"{where}: 'at' must be an ISO 8601 timestamp string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ScenarioRefused(f"{where}: 'at' {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ScenarioRefused(f"{where}: timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _field(raw: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in raw or raw[name] is None:
        raise ScenarioRefused(f"{where}: missing field '{name}'")
    return raw[name]


def _symbol(raw: Mapping[str, Any], where: str) -> str:
    symbol = _field(raw, "symbol", where)
    if not isinstance(symbol, str) or symbol not in INSTRUMENTS:
        raise ScenarioRefused(f"{where}: unknown symbol {symbol!r}")
    return symbol


def _quantity(raw: Mapping[str, Any], where: str) -> int:
    qty = _field(raw, "qty", where)
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise ScenarioRefused(f"{where}: qty {qty!r} is not an integer")
    if qty <= 0:
        raise ScenarioRefused(f"{where}: qty {qty} must be a positive number of contracts")
    return qty


def _side(raw: Mapping[str, Any], where: str) -> Side:
    side = _field(raw, "side", where)
    try:
        return Side(side)
    except ValueError:
        raise ScenarioRefused(f"{where}: side {side!r} is not buy or sell") from None


def _price(symbol: str, raw: Mapping[str, Any], where: str) -> Decimal:
    try:
        return parse_price(INSTRUMENTS[symbol], _field(raw, "price", where))
    except InvalidPrice as error:
        raise ScenarioRefused(f"{where}: {error}") from None


def _amount(value: Any, where: str, name: str, *, positive: bool) -> Decimal:
    try:
        amount = to_decimal(value, field=name)
    except MoneyError as error:
        raise ScenarioRefused(f"{where}: {error}") from None
    if positive and amount <= 0:
        raise ScenarioRefused(f"{where}: {name}: {value!r} must be greater than zero")
    if amount < 0:
        raise ScenarioRefused(f"{where}: {name}: {value!r} must be at least 0")
    return amount


def parse_event(raw: Any, index: int) -> TradeEvent:
    where = f"event {index}"
    if not isinstance(raw, Mapping):
        raise ScenarioRefused(f"{where}: expected an object, got {type(raw).__name__}")
    kind = _field(raw, "type", where)
    where = f"event {index} ({kind})"
    at = _instant(_field(raw, "at", where), where)
    if kind == "fill":
        symbol = _symbol(raw, where)
        fee = raw.get("fee")
        return Fill(
            at=at,
            symbol=symbol,
            side=_side(raw, where),
            qty=_quantity(raw, where),
            price=_price(symbol, raw, where),
            fee=None if fee is None else _amount(fee, where, "fee", positive=False),
        )
    if kind == "mark":
        symbol = _symbol(raw, where)
        return Mark(at=at, symbol=symbol, price=_price(symbol, raw, where))
    if kind == "order":
        return Order(at=at, symbol=_symbol(raw, where), side=_side(raw, where), qty=_quantity(raw, where))
    if kind == "withdrawal":
        return Withdrawal(at=at, amount=_amount(_field(raw, "amount", where), where, "amount", positive=True))
    if kind == "clock":
        return TimePassed(at=at)
    raise ScenarioRefused(f"event {index}: unknown type {kind!r} (fill, mark, order, withdrawal, clock)")


def _parse_news(raw: Any) -> tuple[NewsEvent, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ScenarioRefused("news_calendar: expected a list")
    news = []
    for index, entry in enumerate(raw):
        where = f"news_calendar[{index}]"
        if not isinstance(entry, Mapping):
            raise ScenarioRefused(f"{where}: expected an object")
        instruments = _field(entry, "instruments", where)
        if not isinstance(instruments, list) or not instruments:
            raise ScenarioRefused(f"{where}: instruments must be a non-empty list of symbols or '*'")
        for symbol in instruments:
            if symbol != "*" and symbol not in INSTRUMENTS:
                raise ScenarioRefused(f"{where}: unknown symbol {symbol!r}")
        title = entry.get("title", "")
        news.append(
            NewsEvent(
                at=_instant(_field(entry, "at", where), where),
                title=title if isinstance(title, str) else str(title),
                instruments=None if "*" in instruments else frozenset(instruments),
            )
        )
    return tuple(news)


def parse_scenario(document: Any) -> Scenario:
    if not isinstance(document, Mapping):
        raise ScenarioRefused("scenario: expected a JSON object at the top level")
    try:
        rule_set = parse_rule_set(_field(document, "rule_set", "scenario"))
    except RuleSetError as error:
        raise ScenarioRefused(str(error)) from None
    raw_events = _field(document, "events", "scenario")
    if not isinstance(raw_events, list):
        raise ScenarioRefused("scenario: 'events' must be a list")
    events: list[TradeEvent] = []
    for index, raw in enumerate(raw_events):
        event = parse_event(raw, index)
        if events and event.at < events[-1].at:
            raise ScenarioRefused(
                f"event {index}: at {raw['at']} is earlier than event {index - 1} at "
                f"{raw_events[index - 1]['at']}"
                " (events must be in time order)"
            )
        events.append(event)
    name = document.get("name", "")
    return Scenario(str(name), rule_set, _parse_news(document.get("news_calendar")), tuple(events))


def load_scenario(text: str) -> Scenario:
    try:
        # Decimals straight from the text: a JSON number never passes through a binary float.
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise ScenarioRefused(f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    return parse_scenario(document)


# -- running and presenting ----------------------------------------------------------------------------------
def run(scenario: Scenario) -> tuple[AccountRisk, list[Decision]]:
    account = AccountRisk(scenario.rule_set, scenario.news)
    decisions: list[Decision] = []
    for event in scenario.events:
        decisions.extend(account.apply(event))
    return account, decisions


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _trigger(trigger: Trigger, zone: ZoneInfo) -> dict[str, Any]:
    """The evidence of what set a decision off: the trade event, or the scheduled boundary that passed."""
    if isinstance(trigger, Boundary):
        described: dict[str, Any] = {
            "type": trigger.kind.value,
            "at": _at(trigger.at, zone),
            "trade_date": trigger.trade_date.isoformat(),
        }
        if trigger.title:
            described["title"] = trigger.title
        return described
    described = {"type": trigger.kind, "at": _at(trigger.at, zone)}
    for name in ("symbol", "side", "qty", "price", "amount"):
        value = getattr(trigger, name, None)
        if value is not None:
            described[name] = (
                value.value if isinstance(value, Side) else str(value) if isinstance(value, Decimal) else value
            )
    return described


def _at(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()


def timeline_entries(decision: Decision, zone: ZoneInfo) -> list[dict[str, Any]]:
    at = _at(decision.occurred_at, zone)
    if isinstance(decision, OrderAccepted | OrderRejected):
        entry: dict[str, Any] = {
            "kind": "order_accepted" if isinstance(decision, OrderAccepted) else "order_rejected",
            "at": at,
            "symbol": decision.symbol,
            "side": decision.side.value,
            "qty": decision.qty,
        }
        if isinstance(decision, OrderRejected):
            entry["reason"] = decision.reason.value
            if decision.exposure_after is not None:
                entry["exposure"] = str(decision.exposure_after)
                entry["limit"] = _text(decision.limit)
        return [entry]
    if isinstance(decision, BreachDetected):
        entry = {
            "kind": "breach",
            "at": at,
            "rule": decision.rule.value,
            "severity": decision.severity,
            "equity": str(decision.equity),
        }
        if decision.floor is not None:
            entry["floor"] = str(decision.floor)
        if decision.day_pnl is not None:
            entry["day_pnl"] = str(decision.day_pnl)
            entry["limit"] = _text(decision.limit)
        entry["trigger"] = _trigger(decision.trigger, zone)
        return [entry]
    if isinstance(decision, PositionsLiquidated):
        return [
            {
                "kind": "liquidation",
                "at": at,
                "symbol": fill.symbol,
                "side": fill.side.value,
                "qty": fill.qty,
                "price": str(fill.price),
                "realized_pnl": str(fill.realized_pnl),
                "fee": str(fill.fee),
                "reason": decision.reason.value,
            }
            for fill in decision.fills
        ]
    if isinstance(decision, ViolationRecorded):
        entry = {"kind": "violation", "at": at, "rule": decision.rule.value}
        if decision.symbol is not None:
            entry["symbol"] = decision.symbol
        if decision.exposure is not None:
            entry["exposure"] = str(decision.exposure)
            entry["limit"] = _text(decision.limit)
        if decision.detail:
            entry["detail"] = decision.detail
        entry["trigger"] = _trigger(decision.trigger, zone)
        return [entry]
    if isinstance(decision, EndOfDayRecorded):
        return [
            {
                "kind": "eod",
                "at": at,
                "trade_date": decision.trade_date.isoformat(),
                "balance": str(decision.balance),
                "day_pnl": str(decision.day_pnl),
                "floor": str(decision.floor),
                "trading_days": decision.trading_days,
                "daily_loss_limit": _text(decision.daily_loss_limit),
                "max_contracts": _text(decision.max_contracts),
            }
        ]
    if isinstance(decision, PhasePassed):
        return [
            {
                "kind": "passed",
                "at": at,
                "trade_date": decision.trade_date.isoformat(),
                "balance": str(decision.balance),
                "profit": str(decision.profit),
                "target": str(decision.effective_target),
                "trading_days": decision.trading_days,
            }
        ]
    raise TypeError(f"no timeline entry for {decision!r}")


def result_document(account: AccountRisk, decisions: Sequence[Decision]) -> dict[str, Any]:
    zone = account.rule_set.calendar.zone
    timeline: list[dict[str, Any]] = []
    for decision in decisions:
        timeline.extend(timeline_entries(decision, zone))
    failure = None
    if account.failure is not None:
        failure = {"rule": account.failure[0].value, "at": _at(account.failure[1], zone)}
    return {
        "status": account.status.value,
        "failure": failure,
        "balance": str(account.balance),
        "equity": str(account.equity),
        "floor": str(account.floor),
        "high_water_mark": str(account.high_water_mark),
        "positions": [
            {
                "symbol": symbol,
                "qty": position.net_qty,
                "avg_price": str(position.average_price),
            }
            for symbol, position in sorted(account.positions.items())
        ],
        "trading_days": account.trading_days,
        "timeline": timeline,
    }


def replay_text(text: str) -> dict[str, Any]:
    """Parse and replay a scenario document; raises ScenarioRefused for a file the replay refuses."""
    account, decisions = run(load_scenario(text))
    return result_document(account, decisions)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m services.rules.replay SCENARIO.json", file=sys.stderr)
        return EXIT_REFUSED
    path = args[0]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        print(f"replay refused: cannot read {path}: {error}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        document = replay_text(text)
    except ScenarioRefused as error:
        print(f"replay refused: {path}: {error}", file=sys.stderr)
        return EXIT_REFUSED
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
