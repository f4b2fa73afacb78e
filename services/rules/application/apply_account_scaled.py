"""AccountScaled from challenges (ADR 0054): a funded account stepped up its size under its scaling plan.

From now on the account is judged by the funded rule set at the new size, which challenges sends with the event.
The step starts the account's risk state afresh at the new start balance, as the activation of a new phase does: the
drawdown, daily loss and contract limits of the old size no longer apply. A step for an attempt a reset has since
replaced is stale; the same step seen again (same rule set) changes nothing; a stopped account stays stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from libs.domain.errors import InvalidArgument
from libs.domain.rule_set import RuleSetError, parse_rule_set
from services.rules.application.monitored_account import MONITORING
from services.rules.application.ports import MonitoringStore
from services.rules.domain.account_risk import AccountRisk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleMonitoring:
    account_id: uuid.UUID
    attempt: int
    step: int
    account_size: str
    rule_set: dict
    at: datetime


async def apply_account_scaled(store: MonitoringStore, command: ScaleMonitoring) -> str:
    try:
        rule_set = parse_rule_set(command.rule_set)
    except RuleSetError as exc:
        raise InvalidArgument(f"the scaled rule set is invalid: {exc}", field="rule_set") from None
    account = await store.get_account(command.account_id, for_update=True)
    if account is None:
        log.info("AccountScaled for account %s we never monitored: nothing to do", command.account_id)
        return "unknown"
    if command.attempt < account.attempt:
        return "stale"
    if account.rule_set == command.rule_set:
        return "unchanged"
    scaled = dataclasses.replace(account, rule_set=command.rule_set, snapshot=None)
    fresh = AccountRisk(rule_set)
    await store.activate(scaled, fresh.to_snapshot(), fresh.status.value, command.at)
    if account.status != MONITORING:  # activate() monitors; a step taken while stopped does not resume judging
        await store.set_status(account.account_id, account.status)
    log.info("account %s scaled to %s (step %s)", command.account_id, command.account_size, command.step)
    return "scaled"
