"""Properties of the rules engine that must hold for every rule set and every event stream."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from libs.domain.instruments import instrument
from libs.domain.rule_set import DrawdownMode, RuleSet
from services.rules.domain.account_risk import AccountRisk, AccountStatus
from services.rules.domain.decisions import BreachDetected, EndOfDayRecorded, OrderAccepted, OrderRejected, RejectReason
from services.rules.domain.trade_events import Fill, Mark, Order, Side, TradeEvent
from services.rules.replay import result_document
from tests.unit.rules.strategies import BASE_PRICE, NEWS, event_streams, rule_set_documents, rule_set_of, rule_sets


def _replay(rule_set: RuleSet, events: list[TradeEvent]) -> tuple[AccountRisk, list]:
    account = AccountRisk(rule_set, NEWS)
    decisions: list = []
    for event in events:
        decisions.extend(account.apply(event))
    return account, decisions


def _independent_unrealized(account: AccountRisk) -> Decimal:
    """Unrealized P&L summed lot by lot, without the engine's running cost figures."""
    total = Decimal(0)
    for symbol, position in account.positions.items():
        sign = 1 if position.net_qty > 0 else -1
        point_value = instrument(symbol).point_value
        for price, qty in position.lots:
            total += (account.marks[symbol] - price) * qty * sign * point_value
    return total


@given(rule_set=rule_sets, events=event_streams())
def test_equity_is_balance_plus_unrealized_at_every_step(rule_set: RuleSet, events: list[TradeEvent]) -> None:
    account = AccountRisk(rule_set, NEWS)
    for event in events:
        account.apply(event)
        assert account.equity == account.balance + _independent_unrealized(account)


@given(rule_set=rule_sets, events=event_streams())
def test_the_floor_never_decreases(rule_set: RuleSet, events: list[TradeEvent]) -> None:
    account = AccountRisk(rule_set, NEWS)
    floor = account.floor
    for event in events:
        account.apply(event)
        assert account.floor >= floor
        floor = account.floor


@given(rule_set=rule_sets, events=event_streams())
def test_a_failed_account_stays_failed(rule_set: RuleSet, events: list[TradeEvent]) -> None:
    account = AccountRisk(rule_set, NEWS)
    failed_at = None
    for event in events:
        decisions = account.apply(event)
        if failed_at is not None:
            assert account.status is AccountStatus.FAILED
            assert account.failure is not None and account.failure[1] == failed_at
            assert not any(isinstance(decision, BreachDetected) for decision in decisions)
        elif account.status is AccountStatus.FAILED:
            assert account.failure is not None
            failed_at = account.failure[1]
            breaches = [d for d in decisions if isinstance(d, BreachDetected) and d.severity == "hard"]
            assert [breach.occurred_at for breach in breaches] == [failed_at]
            if not isinstance(event, Fill):
                # Liquidated at the breach; only a fill applied after it (the breach was at a boundary
                # before the fill's instant) can open a position again.
                assert not account.positions


@given(rule_set=rule_sets, events=event_streams(), split=st.integers(min_value=0, max_value=40))
def test_a_snapshot_restore_anywhere_replays_like_one_go(
    rule_set: RuleSet, events: list[TradeEvent], split: int
) -> None:
    whole, whole_decisions = _replay(rule_set, events)

    split = min(split, len(events))
    first = AccountRisk(rule_set, NEWS)
    decisions: list = []
    for event in events[:split]:
        decisions.extend(first.apply(event))
    stored = json.loads(json.dumps(first.to_snapshot()))
    second = AccountRisk.from_snapshot(rule_set, stored, NEWS)
    for event in events[split:]:
        decisions.extend(second.apply(event))

    assert _same_values(second, whole)
    assert _same_timeline(result_document(second, decisions), result_document(whole, whole_decisions))


def _same_values(left: AccountRisk, right: AccountRisk) -> bool:
    # Decimal spellings may differ after a restore (5000.0 vs 5000.00); the values may not.
    return (
        left.status is right.status
        and left.balance == right.balance
        and left.equity == right.equity
        and left.floor == right.floor
        and left.high_water_mark == right.high_water_mark
        and left.trading_days == right.trading_days
        and left.daily_loss_baseline == right.daily_loss_baseline
        and left.window_day_pnls == right.window_day_pnls
        and left.cursor == right.cursor
        and {s: (p.net_qty, p.cost) for s, p in left.positions.items()}
        == {s: (p.net_qty, p.cost) for s, p in right.positions.items()}
    )


def _same_timeline(left: dict, right: dict) -> bool:
    def normalised(document: dict) -> str:
        def convert(value: object) -> object:
            if isinstance(value, dict):
                return {key: convert(item) for key, item in value.items()}
            if isinstance(value, list):
                return [convert(item) for item in value]
            if isinstance(value, str):
                try:
                    return str(Decimal(value).normalize())
                except ArithmeticError:
                    return value
            return value

        return json.dumps(convert(document), sort_keys=True)

    return normalised(left) == normalised(right)


@given(
    rule_set=rule_sets,
    events=event_streams(),
    offsets=st.lists(st.integers(min_value=-11, max_value=13), min_size=40, max_size=40),
)
def test_the_same_instants_written_with_other_offsets_give_the_same_result(
    rule_set: RuleSet, events: list[TradeEvent], offsets: list[int]
) -> None:
    shifted = [
        replace(event, at=event.at.astimezone(timezone(timedelta(hours=offset))))
        for event, offset in zip(events, offsets, strict=False)
    ]
    original, original_decisions = _replay(rule_set, events)
    moved, moved_decisions = _replay(rule_set, shifted)
    assert result_document(moved, moved_decisions) == result_document(original, original_decisions)


@given(document=rule_set_documents, events=event_streams(withdrawals=False))
def test_eod_trailing_floors_move_only_at_eod_snapshots(document: dict, events: list[TradeEvent]) -> None:
    document["drawdown"]["mode"] = DrawdownMode.EOD_TRAILING.value
    account = AccountRisk(rule_set_of(document), NEWS)
    for event in events:
        floor = account.floor
        decisions = account.apply(event)
        if account.floor != floor:
            assert any(isinstance(decision, EndOfDayRecorded) for decision in decisions)


@given(
    document=rule_set_documents,
    events=event_streams(),
    index=st.integers(min_value=0, max_value=39),
    parts=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4),
)
def test_splitting_a_fill_into_several_at_the_same_price_changes_no_balance(
    document: dict, events: list[TradeEvent], index: int, parts: list[int]
) -> None:
    # An intraday-trailing high-water mark sees the equity between the parts, before the later parts' fees, so
    # there a split may legitimately raise the floor by those fees; the property is about the other modes.
    if document["drawdown"]["mode"] == DrawdownMode.INTRADAY_TRAILING.value:
        document["drawdown"]["mode"] = DrawdownMode.EOD_TRAILING.value
    rule_set = rule_set_of(document)
    fills = [i for i, event in enumerate(events) if isinstance(event, Fill)]
    assume(fills)
    target = fills[index % len(fills)]
    fill = events[target]
    assert isinstance(fill, Fill)
    whole = replace(fill, qty=sum(parts))
    split = [replace(fill, qty=qty) for qty in parts]

    together, _ = _replay(rule_set, events[:target])
    # A breach on the whole fill liquidates between the parts of the split one: a different, correct, history.
    assume(not any(isinstance(decision, BreachDetected) for decision in together.apply(whole)))
    for event in events[target + 1 :]:
        together.apply(event)
    # Fees per side are per contract, so splitting the quantity splits the fee exactly.
    apart, _ = _replay(rule_set, [*events[:target], *split, *events[target + 1 :]])
    assert apart.balance == together.balance
    assert apart.equity == together.equity
    assert apart.status is together.status
    assert apart.floor == together.floor


@given(rule_set=rule_sets, events=event_streams())
def test_an_account_still_under_the_rules_never_rests_below_its_floor(
    rule_set: RuleSet, events: list[TradeEvent]
) -> None:
    # Breach iff equity < floor, at that instant: no event (not even a liquidation's fees) leaves an active or
    # locked account below its floor for the next event to discover.
    account = AccountRisk(rule_set, NEWS)
    for event in events:
        account.apply(event)
        if account.status in (AccountStatus.ACTIVE, AccountStatus.LOCKED):
            assert account.equity >= account.floor


_FLAT_BY = time(15, 10)


def _in_flat_by_by_the_wall_clock(instant: datetime, zone: str) -> bool:
    """An oracle written from the spec's sentences, not from the calendar code: orders are refused from the
    flat-by until the next session opens (CME: 17:00 CT, Friday's until Sunday 17:00; a midnight day: 00:00 of
    the next weekday, Friday's until Monday 00:00)."""
    if zone == "prague":
        local = instant.astimezone(ZoneInfo("Europe/Prague"))
        return local.weekday() >= 5 or local.time() >= _FLAT_BY
    local = instant.astimezone(ZoneInfo("America/Chicago"))
    weekday, wall = local.weekday(), local.time()
    if weekday == 5 or (weekday == 6 and wall < time(17)):
        return True
    if weekday == 4:
        return wall >= _FLAT_BY
    return weekday < 5 and _FLAT_BY <= wall < time(17)


@given(
    document=rule_set_documents,
    events=event_streams(),
    # From Monday 08:00 CT: half the time one of the instants where a first event meets a flat-by period
    # (Monday 15:30, Friday 15:30, Saturday 10:00, Sunday 16:00), else anywhere in the week.
    shift_minutes=st.sampled_from([450, 6210, 7320, 9120]) | st.integers(min_value=0, max_value=7 * 24 * 60),
)
def test_orders_are_refused_flat_by_exactly_inside_the_flat_by_period_whatever_came_before(
    document: dict, events: list[TradeEvent], shift_minutes: int
) -> None:
    document["flat_by"] = {"time": "15:10", "action": "auto_flatten"}
    zone = "prague" if "day_boundary" in document else "cme"
    account = AccountRisk(rule_set_of(document), NEWS)
    # Shifted by up to a week, so the first event (which saw no flat-by fire) can fall anywhere in the week.
    shift = timedelta(minutes=shift_minutes)
    for event in (replace(event, at=event.at + shift) for event in events):
        decisions = account.apply(event)
        if not isinstance(event, Order) or account.is_terminal:
            continue
        verdicts = [d for d in decisions if isinstance(d, OrderAccepted | OrderRejected)]
        flat_by = [d for d in verdicts if isinstance(d, OrderRejected) and d.reason is RejectReason.FLAT_BY]
        if _in_flat_by_by_the_wall_clock(event.at, zone):
            assert not any(isinstance(d, OrderAccepted) for d in verdicts)
            if account.status is AccountStatus.ACTIVE:
                assert flat_by
        else:
            assert not flat_by


@settings(suppress_health_check=[HealthCheck.filter_too_much])  # streams ending with two symbols open are skipped
@given(rule_set=rule_sets, events=event_streams(), mark_prices=st.lists(st.integers(-400, 400), min_size=1, max_size=6))
def test_a_run_of_quiet_marks_leaves_the_state_its_last_mark_alone_leaves(
    rule_set: RuleSet, events: list[TradeEvent], mark_prices: list[int]
) -> None:
    # What the group commit relies on to defer quotes (ADR 0071): while quiet_mark_equity answers, applying the mark
    # decides nothing and leaves the equity it answered, and the state after a run of such marks of one symbol is
    # the state the last of them alone gives. (A mark that decides something is therefore never called quiet.)
    account, _ = _replay(rule_set, events)
    if account.cursor is not None and not account.positions:
        # Most streams end flat: open one contract of the last symbol traded or marked, at its last mark (or its
        # base price), so that the example tests something.
        symbol = next((e.symbol for e in reversed(events) if isinstance(e, Mark | Fill)), "ES")
        price = account.marks.get(symbol, BASE_PRICE[symbol])
        account.apply(Fill(at=account.cursor, symbol=symbol, side=Side.BUY, qty=1, price=price))
    assume(account.cursor is not None and len(account.positions) == 1)
    symbol = next(iter(account.positions))
    tick = instrument(symbol).tick_size
    start = account.to_snapshot()
    for n, ticks in enumerate(mark_prices):
        mark = Mark(at=account.cursor + timedelta(seconds=n + 1), symbol=symbol,
                    price=account.marks[symbol] + ticks * tick)  # fmt: skip
        equity = account.quiet_mark_equity(mark)
        decisions = list(account.apply(mark))
        if equity is None:
            break
        assert decisions == []
        assert account.equity == equity
        alone = AccountRisk.from_snapshot(rule_set, start, NEWS)
        assert list(alone.apply(mark)) == []
        assert alone.to_snapshot() == account.to_snapshot()
