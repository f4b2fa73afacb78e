"""AccountRisk: one trading account's risk state and the rules engine that moves it, event by event.

Time passes only through events. Before an event is applied, every scheduled boundary (flat-by, news window
start, EOD snapshot, day roll, session open) whose instant lies after the previous event and at or before this
one fires, in time order, and the rules are evaluated again at the boundary's own instant with the marks known
then. A boundary at the same instant as an event fires first, so an order at exactly 17:00 on Sunday meets an
open session.

On one evaluation the drawdown floor is checked before the daily loss limit, so when both trip on one mark the
account fails with ``max_loss``. After a hard breach or a pass, fills still move positions and balance but no
rule is checked and no boundary acts.

The state is plain data (see ``to_snapshot``/``from_snapshot``): a JSON snapshot restored under the same rule
set and news calendar continues exactly as the original would have.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from libs.domain.errors import InvalidArgument
from libs.domain.instruments import INSTRUMENTS, UnknownInstrument
from libs.domain.rule_set import (
    ConsistencyMode,
    ConsistencyWindow,
    DrawdownMode,
    Enforcement,
    FlatByAction,
    LockKind,
    RatioComparison,
    RuleSet,
    Severity,
    TradingDayCounting,
)
from services.rules.domain.decisions import (
    Boundary,
    BoundaryKind,
    BreachDetected,
    Decision,
    EndOfDayRecorded,
    LiquidationFill,
    OrderAccepted,
    OrderRejected,
    PhasePassed,
    PositionsLiquidated,
    RejectReason,
    RuleName,
    Trigger,
    ViolationRecorded,
)
from services.rules.domain.positions import Position
from services.rules.domain.schedule import BoundarySchedule
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

_ZERO = Decimal(0)
_ONE = Decimal(1)
_NO_DECISIONS: tuple[Decision, ...] = ()
SNAPSHOT_VERSION = 2  # 2: the lockout's end is stored; the flat-by period is derived, not stored


class AccountStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # a soft lockout is in force until the next day roll
    FAILED = "failed"
    PASSED = "passed"


class EventOutOfOrder(InvalidArgument):
    """Time only moves forward: an event earlier than the last one applied would rewrite decisions taken."""

    def __init__(self, at: datetime, cursor: datetime) -> None:
        super().__init__(
            f"event at {at.isoformat()} is earlier than the last event at {cursor.isoformat()}", field="at"
        )


class AccountRisk:
    """The risk state of one account under one rule set, and the rules applied to every event."""

    def __init__(self, rule_set: RuleSet, news: Sequence[NewsEvent] = ()) -> None:
        self.rule_set = rule_set
        self._schedule = BoundarySchedule(rule_set, news)
        self._drawdown = rule_set.drawdown
        self._daily_loss = rule_set.daily_loss_limit
        self._max_contracts = rule_set.max_contracts
        self._has_flat_by = rule_set.flat_by is not None
        self._intraday_trailing = self._drawdown.mode is DrawdownMode.INTRADAY_TRAILING
        start = rule_set.start_balance
        self._floor_cap = {
            LockKind.NONE: None,
            LockKind.START: start,
            LockKind.START_PLUS: start + self._drawdown.lock_amount,
        }[self._drawdown.lock]

        self.status = AccountStatus.ACTIVE
        self.failure: tuple[RuleName, datetime] | None = None
        self.balance = start
        self.high_water_mark = start
        self.floor = self._capped_floor(start - self._drawdown.max_loss)
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, Decimal] = {}
        self._unrealized_by_symbol: dict[str, Decimal] = {}
        self.unrealized = _ZERO
        self.cursor: datetime | None = None
        # Figures of the trade date whose EOD snapshot is still to come.
        self.day_open_balance = start
        self.day_had_fill = False
        self.day_opened_position = False
        self.trading_days = 0
        self.window_day_pnls: list[Decimal] = []
        # Daily loss: the baseline is the balance at the last day roll (less withdrawals since).
        self.daily_loss_baseline = start
        self.daily_loss_limit = self._daily_loss.amount if self._daily_loss else None
        self.next_daily_loss_limit = self.daily_loss_limit
        self.daily_loss_breached_today = False
        self.contract_limit = self._max_contracts.limit_for(start) if self._max_contracts else None
        self.next_contract_limit = self.contract_limit
        # The instant a soft lockout ends (set with the lockout; None when not locked).
        self.lockout_until: datetime | None = None

        self._boundaries: Iterator[Boundary] | None = None
        self._next_boundary: Boundary | None = None
        self._next_boundary_at: datetime | None = None
        self._out: list[Decision] = []

    # -- figures ---------------------------------------------------------------------------------------------
    @property
    def equity(self) -> Decimal:
        return self.balance + self.unrealized

    @property
    def is_terminal(self) -> bool:
        return self.status is AccountStatus.FAILED or self.status is AccountStatus.PASSED

    @property
    def next_boundary_at(self) -> datetime | None:
        """When the next scheduled boundary fires (None before the first event): an idle account needs a clock tick
        by then for its flat-by, EOD snapshot, day roll or lockout end to happen on time."""
        return self._next_boundary_at

    def first_boundary_after(self, instant: datetime) -> datetime:
        """When the first scheduled boundary (flat-by, EOD snapshot, day roll, news) after ``instant`` fires."""
        return next(self._schedule.boundaries_after(instant)).at

    def quote_between_changes_nothing(self, symbol: str, price: Decimal, boundary_after: datetime) -> bool:
        """Whether a mark of ``symbol`` at ``price``, inserted before later marks of the same symbol with nothing else
        between it and now but quotes, certainly decides nothing and leaves this state as it is: the account holds
        only ``symbol``, its drawdown does not trail intraday, it is active with its daily loss not yet breached, no
        boundary fires between the mark and now (``boundary_after``: the first one after the mark's instant), and the
        mark's equity is neither below today's floor (which is at least the floor at the mark's instant) nor past
        the daily loss limit. The later marks of the symbol then overwrite everything the mark changed."""
        if self.daily_loss_breached_today or self._intraday_trailing:
            return False
        if self.cursor is None or boundary_after <= self.cursor:
            return False
        return self._equity_within_limits(symbol, price) is not None

    def quiet_mark_equity(self, mark: Mark) -> Decimal | None:
        """The equity ``mark`` would leave if applied now, when applying it in order decides nothing and changes
        nothing but that symbol's mark, its unrealized P&L and the cursor; else None. Quiet means: the account is
        active and holds only the mark's symbol, no boundary fires up to the mark, and at the mark's equity the
        floor is not reached, an intraday-trailing high-water mark does not move and the daily loss limit is not
        hit: exactly the tests ``_evaluate`` makes, so None is the only answer that may err (towards the engine).
        A run of quiet marks of one symbol therefore leaves the state the last of them alone leaves."""
        cursor, next_at, at = self.cursor, self._next_boundary_at, mark.at
        if cursor is None or at < cursor or next_at is None or next_at <= at:
            return None
        equity = self._equity_within_limits(mark.symbol, mark.price)
        if equity is None or (self._intraday_trailing and equity > self.high_water_mark):
            return None
        return equity

    def _equity_within_limits(self, symbol: str, price: Decimal) -> Decimal | None:
        """The equity of an active account holding only ``symbol`` marked at ``price``, if that equity reaches
        neither the floor nor (unless already breached today) the daily loss limit: ``_evaluate``'s two breach
        tests, shared by the two quiet-quote screens above. None otherwise."""
        if self.status is not AccountStatus.ACTIVE or len(self.positions) != 1:
            return None
        position = self.positions.get(symbol)
        if position is None:
            return None
        equity = self.balance + position.unrealized(price)
        if equity < self.floor:
            return None
        limit = self.daily_loss_limit
        if limit is not None and not self.daily_loss_breached_today and equity - self.daily_loss_baseline <= -limit:
            return None
        return equity

    def exposure(self) -> Decimal:
        return sum(
            (self._weighted(position.symbol, abs(position.net_qty)) for position in self.positions.values()),
            _ZERO,
        )

    def _weighted(self, symbol: str, qty: int) -> Decimal:
        if self._max_contracts is not None and INSTRUMENTS[symbol].is_micro:
            return self._max_contracts.micro_weight * qty
        return Decimal(qty)

    def _capped_floor(self, candidate: Decimal) -> Decimal:
        cap = self._floor_cap
        return candidate if cap is None or candidate <= cap else cap

    # -- the event loop --------------------------------------------------------------------------------------
    def apply(self, event: TradeEvent) -> tuple[Decision, ...] | list[Decision]:
        """Fire the boundaries up to the event's instant, apply the event, return the decisions taken."""
        at = event.at
        cursor = self.cursor
        if cursor is None:
            self._start_schedule(at)
        elif at < cursor:
            raise EventOutOfOrder(at, cursor)
        next_at = self._next_boundary_at
        if next_at is not None and next_at <= at:
            self._fire_boundaries_until(at)
        self.cursor = at
        kind = type(event)
        if kind is Mark:
            self._apply_mark(event)
        elif kind is Fill:
            self._apply_fill(event)
        elif kind is Order:
            self._apply_order(event)
        elif kind is Withdrawal:
            self._apply_withdrawal(event)
        elif kind is not TimePassed:
            raise TypeError(f"not a trade event: {event!r}")
        out = self._out
        if out:
            self._out = []
            return out
        return _NO_DECISIONS

    def _start_schedule(self, at: datetime) -> None:
        # Boundaries at the first event's own instant fire before it, like any other.
        self._boundaries = self._schedule.boundaries_after(at - timedelta(microseconds=1))
        self._pull_next_boundary()

    def _pull_next_boundary(self) -> None:
        assert self._boundaries is not None  # set by _start_schedule before any pull
        boundary = next(self._boundaries)
        self._next_boundary = boundary
        self._next_boundary_at = boundary.at

    def _fire_boundaries_until(self, at: datetime) -> None:
        while self._next_boundary_at is not None and self._next_boundary_at <= at:
            boundary = self._next_boundary
            assert boundary is not None  # _next_boundary_at is set together with it
            self._fire(boundary)
            self._pull_next_boundary()

    # -- events ----------------------------------------------------------------------------------------------
    def _apply_mark(self, mark: Mark) -> None:
        symbol = mark.symbol
        price = mark.price
        self.marks[symbol] = price
        position = self.positions.get(symbol)
        if position is not None:
            new = position.unrealized(price)
            self.unrealized += new - self._unrealized_by_symbol[symbol]
            self._unrealized_by_symbol[symbol] = new
        if self.status is not AccountStatus.FAILED and self.status is not AccountStatus.PASSED:
            self._evaluate(mark.at, mark)

    def _apply_fill(self, fill: Fill) -> None:
        spec = INSTRUMENTS.get(fill.symbol)
        if spec is None:
            raise UnknownInstrument(fill.symbol)
        checking = not self.is_terminal
        exposure_before = self.exposure() if checking and self._max_contracts is not None else None
        position = self.positions.get(fill.symbol)
        if position is None:
            position = Position(spec)
            self.positions[fill.symbol] = position
            self._unrealized_by_symbol[fill.symbol] = _ZERO
        realized, opened = position.apply_fill(fill.side.sign, fill.qty, fill.price)
        fee = fill.fee if fill.fee is not None else self.rule_set.fee_per_side(fill.symbol) * fill.qty
        self.balance += realized - fee
        self.marks[fill.symbol] = fill.price
        self._revalue(fill.symbol)
        if not checking:
            return
        self.day_had_fill = True
        if opened:
            self.day_opened_position = True
        self._check_conduct_on_fill(fill, exposure_before)
        self._evaluate(fill.at, fill)

    def _revalue(self, symbol: str) -> None:
        position = self.positions[symbol]
        old = self._unrealized_by_symbol[symbol]
        if position.net_qty == 0:
            del self.positions[symbol]
            del self._unrealized_by_symbol[symbol]
            self.unrealized -= old
            if not self.positions:
                self.unrealized = _ZERO  # flat: no residue of earlier sums
            return
        new = position.unrealized(self.marks[symbol])
        self._unrealized_by_symbol[symbol] = new
        self.unrealized += new - old

    def _check_conduct_on_fill(self, fill: Fill, exposure_before: Decimal | None) -> None:
        limits = self._max_contracts
        if (
            limits is not None
            and exposure_before is not None
            and limits.enforcement is Enforcement.POST_TRADE_VIOLATION
        ):
            exposure_after = self.exposure()
            # Only a fill that lowers exposure is exempt: a reversal that keeps it above the limit exceeds too.
            if exposure_after > self.contract_limit and not exposure_after < exposure_before:
                self._emit(
                    ViolationRecorded(
                        occurred_at=fill.at,
                        rule=RuleName.MAX_CONTRACTS,
                        symbol=fill.symbol,
                        trigger=fill,
                        exposure=exposure_after,
                        limit=self.contract_limit,
                    )
                )
        window = self._schedule.news_window_covering(fill.at, fill.symbol) if self._schedule.news_windows else None
        if window is not None:
            self._emit(
                ViolationRecorded(
                    occurred_at=fill.at,
                    rule=RuleName.NEWS,
                    symbol=fill.symbol,
                    trigger=fill,
                    detail=f"fill inside the news window of {window.event.title}",
                )
            )
        if self.status is AccountStatus.LOCKED and fill.symbol in self.positions:
            # The platform should have refused the order; the fill happened, so it moves positions and balance,
            # and the position it leaves open during a soft lockout is recorded for review (ADR 0018).
            self._emit(
                ViolationRecorded(
                    occurred_at=fill.at,
                    rule=RuleName.DAILY_LOSS,
                    symbol=fill.symbol,
                    trigger=fill,
                    detail="position left open by a fill during a soft daily-loss lockout",
                )
            )
        if self._has_flat_by and fill.symbol in self.positions and self._schedule.in_flat_by_period(fill.at):
            self._emit(
                ViolationRecorded(
                    occurred_at=fill.at,
                    rule=RuleName.FLAT_BY,
                    symbol=fill.symbol,
                    trigger=fill,
                    detail="position opened after the flat-by time, before the next session",
                )
            )

    def _apply_order(self, order: Order) -> None:
        reason, exposure_after = self._order_rejection(order)
        if reason is None:
            self._emit(OrderAccepted(occurred_at=order.at, symbol=order.symbol, side=order.side, qty=order.qty))
        else:
            self._emit(
                OrderRejected(
                    occurred_at=order.at,
                    symbol=order.symbol,
                    side=order.side,
                    qty=order.qty,
                    reason=reason,
                    exposure_after=exposure_after,
                    limit=self.contract_limit if reason is RejectReason.MAX_CONTRACTS else None,
                )
            )

    def _order_rejection(self, order: Order) -> tuple[RejectReason | None, Decimal | None]:
        if self.status is AccountStatus.FAILED:
            return RejectReason.ACCOUNT_FAILED, None
        if self.status is AccountStatus.PASSED:
            return None, None
        if self.status is AccountStatus.LOCKED:
            return RejectReason.LOCKED_OUT, None
        if self._has_flat_by and self._schedule.in_flat_by_period(order.at):
            return RejectReason.FLAT_BY, None
        if self._schedule.news_windows and self._schedule.news_window_covering(order.at, order.symbol):
            return RejectReason.NEWS, None
        limits = self._max_contracts
        if limits is not None and limits.enforcement is Enforcement.PRE_TRADE_REJECT:
            before = self.exposure()
            position = self.positions.get(order.symbol)
            held = position.net_qty if position is not None else 0
            after_qty = held + order.side.sign * order.qty
            after = before - self._weighted(order.symbol, abs(held)) + self._weighted(order.symbol, abs(after_qty))
            # Only an order that lowers exposure is always accepted; keeping it above the limit (a full reversal
            # after the limit fell) would exceed it.
            if after > self.contract_limit and not after < before:
                return RejectReason.MAX_CONTRACTS, after
        return None, None

    def _apply_withdrawal(self, withdrawal: Withdrawal) -> None:
        amount = withdrawal.amount
        self.balance -= amount
        # A payout is not a loss: the day's figures and the daily-loss baseline move with it.
        self.day_open_balance -= amount
        self.daily_loss_baseline -= amount
        if self._drawdown.floor_to_start_on_payout and self.floor < self.rule_set.start_balance:
            self.floor = self.rule_set.start_balance
        consistency = self.rule_set.consistency
        if consistency is not None and consistency.window is ConsistencyWindow.SINCE_PAYOUT:
            self.window_day_pnls = []
        if not self.is_terminal:
            self._evaluate(withdrawal.at, withdrawal)

    # -- the live checks -------------------------------------------------------------------------------------
    def _evaluate(self, at: datetime, trigger: Trigger) -> None:
        equity = self.balance + self.unrealized
        if self._intraday_trailing and equity > self.high_water_mark:
            self.high_water_mark = equity
            candidate = self._capped_floor(equity - self._drawdown.max_loss)
            if candidate > self.floor:
                self.floor = candidate
        if equity < self.floor:  # inline: this comparison runs on every mark
            self._fail_below_floor(at, trigger, equity)
            return
        limit = self.daily_loss_limit
        if limit is None or self.daily_loss_breached_today:
            return
        day_pnl = equity - self.daily_loss_baseline
        if day_pnl <= -limit:
            severity = self._daily_loss.breach  # type: ignore[union-attr]  # limit is set only with a rule
            self.daily_loss_breached_today = True
            self._emit(
                BreachDetected(
                    occurred_at=at,
                    rule=RuleName.DAILY_LOSS,
                    severity=severity.value,
                    equity=equity,
                    day_pnl=day_pnl,
                    limit=limit,
                    trigger=trigger,
                )
            )
            if severity is Severity.HARD:
                self.status = AccountStatus.FAILED
                self.failure = (RuleName.DAILY_LOSS, at)
                self._liquidate(at, RuleName.DAILY_LOSS, trigger)
                return
            self.status = AccountStatus.LOCKED
            self.lockout_until = self.rule_set.calendar.lockout_lifted_at(at)
            self._liquidate(at, RuleName.DAILY_LOSS, trigger)
            # The liquidation's fees are part of equity at this instant: they can take it below the floor.
            equity = self.balance + self.unrealized
            if equity < self.floor:
                self._fail_below_floor(at, trigger, equity)

    def _fail_below_floor(self, at: datetime, trigger: Trigger, equity: Decimal) -> None:
        """Breach iff equity < floor: fail the account at ``at`` and liquidate what is still open."""
        self._emit(
            BreachDetected(
                occurred_at=at,
                rule=RuleName.MAX_LOSS,
                severity=Severity.HARD.value,
                equity=equity,
                floor=self.floor,
                trigger=trigger,
            )
        )
        self.status = AccountStatus.FAILED
        self.failure = (RuleName.MAX_LOSS, at)
        self.lockout_until = None
        self._liquidate(at, RuleName.MAX_LOSS, trigger)

    def _liquidate(self, at: datetime, reason: RuleName, trigger: Trigger) -> None:
        """Close every open position at the current marks, paying the rule set's fees like any fill."""
        if not self.positions:
            return
        fills = []
        for symbol in sorted(self.positions):
            position = self.positions[symbol]
            qty = abs(position.net_qty)
            closing_side = Side.SELL if position.net_qty > 0 else Side.BUY
            price = self.marks[symbol]
            realized, _ = position.apply_fill(closing_side.sign, qty, price)
            fee = self.rule_set.fee_per_side(symbol) * qty
            self.balance += realized - fee
            self._revalue(symbol)
            fills.append(LiquidationFill(symbol, closing_side, qty, price, realized, fee))
        self._emit(PositionsLiquidated(occurred_at=at, reason=reason, fills=tuple(fills), trigger=trigger))

    # -- boundaries ------------------------------------------------------------------------------------------
    def _fire(self, boundary: Boundary) -> None:
        if self.is_terminal:
            return
        kind = boundary.kind
        if kind is BoundaryKind.EOD_SNAPSHOT:
            self._record_end_of_day(boundary)
        elif kind is BoundaryKind.DAY_ROLL:
            self._roll_day(boundary.at)
        elif kind is BoundaryKind.SESSION_OPEN:
            # With a midnight roll, Friday's lockout ends when Monday opens, not at Friday's own roll.
            self._lift_lockout_at(boundary.at)
        elif kind is BoundaryKind.FLAT_BY:
            self._flatten(boundary)
        elif kind is BoundaryKind.NEWS_WINDOW_START:
            self._check_positions_at_news(boundary)
        if not self.is_terminal:
            self._evaluate(boundary.at, boundary)

    def _roll_day(self, at: datetime) -> None:
        self.daily_loss_baseline = self.balance
        self.daily_loss_limit = self.next_daily_loss_limit
        self.contract_limit = self.next_contract_limit
        self.daily_loss_breached_today = False
        self._lift_lockout_at(at)

    def _lift_lockout_at(self, at: datetime) -> None:
        if self.status is AccountStatus.LOCKED and (self.lockout_until is None or at >= self.lockout_until):
            self.status = AccountStatus.ACTIVE
            self.lockout_until = None

    def _flatten(self, boundary: Boundary) -> None:
        flat_by = self.rule_set.flat_by
        assert flat_by is not None  # the schedule has flat-by boundaries only with a rule
        if not self.positions:
            return
        if flat_by.action is FlatByAction.VIOLATION:
            for symbol in sorted(self.positions):
                self._emit(
                    ViolationRecorded(
                        occurred_at=boundary.at,
                        rule=RuleName.FLAT_BY,
                        symbol=symbol,
                        trigger=boundary,
                        detail="position open at the flat-by time",
                    )
                )
        self._liquidate(boundary.at, RuleName.FLAT_BY, boundary)

    def _check_positions_at_news(self, boundary: Boundary) -> None:
        starting = [window for window in self._schedule.news_windows if window.start == boundary.at]
        for symbol in sorted(self.positions):
            titles = [window.event.title for window in starting if window.event.affects(symbol)]
            if titles:
                self._emit(
                    ViolationRecorded(
                        occurred_at=boundary.at,
                        rule=RuleName.NEWS,
                        symbol=symbol,
                        trigger=boundary,
                        detail=f"position open at the start of the news window of {', '.join(titles)}",
                    )
                )

    def _record_end_of_day(self, boundary: Boundary) -> None:
        rule_set = self.rule_set
        balance = self.balance
        day_pnl = balance - self.day_open_balance
        if self._counts_as_trading_day(day_pnl):
            self.trading_days += 1
        self.window_day_pnls.append(day_pnl)
        if self._drawdown.mode is DrawdownMode.EOD_TRAILING and balance > self.high_water_mark:
            self.high_water_mark = balance
            candidate = self._capped_floor(balance - self._drawdown.max_loss)
            if candidate > self.floor:
                self.floor = candidate
        if self._daily_loss is not None:
            reached = [step.amount for step in self._daily_loss.steps if balance >= step.eod_balance_at_least]
            # A step, once reached, stays: the limit never steps back down.
            if reached and max(reached) > self.next_daily_loss_limit:
                self.next_daily_loss_limit = max(reached)
        if self._max_contracts is not None:
            self.next_contract_limit = self._max_contracts.limit_for(balance)
        self._emit(
            EndOfDayRecorded(
                occurred_at=boundary.at,
                trade_date=boundary.trade_date,
                balance=balance,
                day_pnl=day_pnl,
                floor=self.floor,
                high_water_mark=self.high_water_mark,
                trading_days=self.trading_days,
                daily_loss_limit=self.next_daily_loss_limit,
                max_contracts=self.next_contract_limit,
            )
        )
        self.day_open_balance = balance
        self.day_had_fill = False
        self.day_opened_position = False
        if rule_set.profit_target is not None:
            self._check_pass(boundary)

    def _counts_as_trading_day(self, day_pnl: Decimal) -> bool:
        rule = self.rule_set.min_trading_days
        if rule is None or rule.counts_if is TradingDayCounting.ANY_FILL:
            return self.day_had_fill
        if rule.counts_if is TradingDayCounting.POSITION_OPENED:
            return self.day_opened_position
        return rule.threshold is not None and day_pnl >= rule.threshold

    def consistency_figures(self) -> tuple[Decimal, Decimal]:
        """Best day's net P&L and total net P&L over the consistency window."""
        pnls = self.window_day_pnls
        return (max(pnls) if pnls else _ZERO), sum(pnls, _ZERO)

    def consistency_met(self) -> bool:
        rule = self.rule_set.consistency
        if rule is None:
            return True
        best, total = self.consistency_figures()
        if total <= 0:
            return False
        # best / total (<|<=) cap, compared without dividing so the decision is exact.
        if rule.compare is RatioComparison.LT:
            return best < rule.max_ratio * total
        return best <= rule.max_ratio * total

    def _check_pass(self, boundary: Boundary) -> None:
        rule_set = self.rule_set
        target = rule_set.profit_target
        assert target is not None  # called only with a profit target
        if self.positions:
            return
        profit = self.balance - rule_set.start_balance
        consistency = rule_set.consistency
        best, total = self.consistency_figures()
        effective_target = target
        if consistency is not None and consistency.mode is ConsistencyMode.RAISE_TARGET:
            # Effective target = max(target, best / cap); profit >= best / cap  <=>  profit * cap >= best.
            if profit < target or profit * consistency.max_ratio < best:
                return
            if best / consistency.max_ratio > target:
                effective_target = best / consistency.max_ratio
        else:
            if profit < target:
                return
            if consistency is not None and not self.consistency_met():
                return
        days_rule = rule_set.min_trading_days
        if days_rule is not None and self.trading_days < days_rule.count:
            return
        self.status = AccountStatus.PASSED
        self._emit(
            PhasePassed(
                occurred_at=boundary.at,
                trade_date=boundary.trade_date,
                balance=self.balance,
                profit=profit,
                effective_target=effective_target,
                trading_days=self.trading_days,
                consistency_ratio=(best / total) if total > 0 else None,
            )
        )

    def _emit(self, decision: Decision) -> None:
        self._out.append(decision)

    # -- snapshot --------------------------------------------------------------------------------------------
    def to_snapshot(self) -> dict:
        """The whole risk state as JSON-ready data: decimals as strings, instants as UTC ISO 8601."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "version": SNAPSHOT_VERSION,
            "status": self.status.value,
            "failure": None
            if self.failure is None
            else {"rule": self.failure[0].value, "at": self.failure[1].astimezone(UTC).isoformat()},
            "balance": str(self.balance),
            "high_water_mark": str(self.high_water_mark),
            "floor": str(self.floor),
            "positions": [self.positions[symbol].to_snapshot() for symbol in sorted(self.positions)],
            "marks": {symbol: str(price) for symbol, price in sorted(self.marks.items())},
            "cursor": None if self.cursor is None else self.cursor.astimezone(UTC).isoformat(),
            "day_open_balance": str(self.day_open_balance),
            "day_had_fill": self.day_had_fill,
            "day_opened_position": self.day_opened_position,
            "trading_days": self.trading_days,
            "window_day_pnls": [str(pnl) for pnl in self.window_day_pnls],
            "daily_loss_baseline": str(self.daily_loss_baseline),
            "daily_loss_limit": text(self.daily_loss_limit),
            "next_daily_loss_limit": text(self.next_daily_loss_limit),
            "daily_loss_breached_today": self.daily_loss_breached_today,
            "contract_limit": text(self.contract_limit),
            "next_contract_limit": text(self.next_contract_limit),
            "lockout_until": None if self.lockout_until is None else self.lockout_until.astimezone(UTC).isoformat(),
        }

    @classmethod
    def from_snapshot(cls, rule_set: RuleSet, snapshot: dict, news: Sequence[NewsEvent] = ()) -> AccountRisk:
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"risk snapshot version {snapshot.get('version')!r} is not {SNAPSHOT_VERSION}")

        def number(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        account = cls(rule_set, news)
        account.status = AccountStatus(snapshot["status"])
        failure = snapshot["failure"]
        account.failure = (
            None if failure is None else (RuleName(failure["rule"]), datetime.fromisoformat(failure["at"]))
        )
        account.balance = Decimal(snapshot["balance"])
        account.high_water_mark = Decimal(snapshot["high_water_mark"])
        account.floor = Decimal(snapshot["floor"])
        account.marks = {symbol: Decimal(price) for symbol, price in snapshot["marks"].items()}
        for raw in snapshot["positions"]:
            position = Position.from_snapshot(INSTRUMENTS[raw["symbol"]], raw)
            account.positions[position.symbol] = position
            account._unrealized_by_symbol[position.symbol] = position.unrealized(account.marks[position.symbol])
        account.unrealized = sum(account._unrealized_by_symbol.values(), _ZERO)
        account.day_open_balance = Decimal(snapshot["day_open_balance"])
        account.day_had_fill = bool(snapshot["day_had_fill"])
        account.day_opened_position = bool(snapshot["day_opened_position"])
        account.trading_days = int(snapshot["trading_days"])
        account.window_day_pnls = [Decimal(pnl) for pnl in snapshot["window_day_pnls"]]
        account.daily_loss_baseline = Decimal(snapshot["daily_loss_baseline"])
        account.daily_loss_limit = number(snapshot["daily_loss_limit"])
        account.next_daily_loss_limit = number(snapshot["next_daily_loss_limit"])
        account.daily_loss_breached_today = bool(snapshot["daily_loss_breached_today"])
        account.contract_limit = number(snapshot["contract_limit"])
        account.next_contract_limit = number(snapshot["next_contract_limit"])
        lockout_until = snapshot["lockout_until"]
        account.lockout_until = None if lockout_until is None else datetime.fromisoformat(lockout_until)
        if snapshot["cursor"] is not None:
            cursor = datetime.fromisoformat(snapshot["cursor"])
            account.cursor = cursor
            # The boundaries at the cursor's own instant fired before the event there.
            account._boundaries = account._schedule.boundaries_after(cursor)
            account._pull_next_boundary()
        return account
