"""Queries: an account's risk figures and violations (its trader, or staff), quarantine and the review queue (staff).

Someone else's account is reported as not existing, so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from libs.domain.errors import InvalidArgument, NotFound, PermissionDenied
from services.rules.application.current_risk import current_risk
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.ports import UnitOfWorkFactory
from services.rules.application.risk_states import rule_set_of

STAFF = frozenset({"support", "admin"})
MAX_PAGE = 1000


@dataclass(frozen=True)
class Viewer:
    actor_id: str
    role: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def parse_account_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"account id {value!r} is not a UUID", field="account_id") from None


def page_size(value: int) -> int:
    if value < 0 or value > MAX_PAGE:
        raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE}", field="page_size")
    return value or 100


def visible_account(account: MonitoredAccount | None, viewer: Viewer, raw_id: str) -> MonitoredAccount:
    if account is None or (not viewer.is_staff and account.user_id != viewer.actor_id):
        raise NotFound(f"account {raw_id} is not monitored", reason="NOT_FOUND", account_id=raw_id)
    return account


@dataclass(frozen=True)
class RiskView:
    account: MonitoredAccount
    status: str
    balance: Decimal
    equity: Decimal
    floor: Decimal
    day_pnl: Decimal
    daily_loss_limit: Decimal | None
    trading_days: int
    consistency_ratio: Decimal | None
    profit_target: Decimal | None
    progress_to_target: Decimal | None
    as_of: object
    failed_rule: str | None


class GetRiskStateHandler:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, viewer: Viewer, raw_account_id: str) -> RiskView:
        if viewer.role not in STAFF | {"trader"}:
            raise PermissionDenied("sign in to read risk state", reason="PERMISSION_DENIED")
        account_id = parse_account_id(raw_account_id)
        async with self._uow() as uow:
            account = visible_account(await uow.store.get_account(account_id), viewer, raw_account_id)
            risk, _ = await current_risk(uow.store, account)
        return view_of(account, risk, risk.status.value if account.status == MONITORING else "stopped")


def view_of(account: MonitoredAccount, risk, status: str) -> RiskView:
    """The figures a trader sees, from an account's risk state under its rule set."""
    rule_set = rule_set_of(account)
    best, total = risk.consistency_figures()
    target_amount = rule_set.profit_target
    progress = None
    if target_amount:
        progress = (risk.balance - rule_set.start_balance) / target_amount
    return RiskView(
        account=account,
        status=status,
        balance=risk.balance,
        equity=risk.equity,
        floor=risk.floor,
        day_pnl=risk.equity - risk.daily_loss_baseline,
        daily_loss_limit=risk.daily_loss_limit,
        trading_days=risk.trading_days,
        consistency_ratio=(best / total) if total > 0 else None,
        profit_target=target_amount,
        progress_to_target=progress,
        as_of=risk.cursor,
        failed_rule=None if risk.failure is None else risk.failure[0].value,
    )


class ListViolationsHandler:
    """One account's violations; without an account, the admin review queue (open breaches and conduct)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, viewer: Viewer, raw_account_id: str, size: int) -> list[dict]:
        limit = page_size(size)
        async with self._uow() as uow:
            if not raw_account_id:
                if not viewer.is_staff:
                    raise PermissionDenied("only staff may read the review queue", reason="PERMISSION_DENIED")
                return await uow.store.list_violations(None, limit)
            if viewer.role not in STAFF | {"trader"}:
                raise PermissionDenied("sign in to read violations", reason="PERMISSION_DENIED")
            account_id = parse_account_id(raw_account_id)
            visible_account(await uow.store.get_account(account_id), viewer, raw_account_id)
            return await uow.store.list_violations(account_id, limit)


class ListQuarantinedHandler:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, viewer: Viewer, size: int) -> list[dict]:
        if not viewer.is_staff:
            raise PermissionDenied("only staff may read quarantine", reason="PERMISSION_DENIED")
        async with self._uow() as uow:
            return await uow.store.list_quarantined(page_size(size))
