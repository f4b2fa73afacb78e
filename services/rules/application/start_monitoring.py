"""AccountActivated from challenges: start judging the account by the rule set snapshotted on it.

A new attempt (a paid reset) or a new phase starts a fresh risk state under the new rule set; the same activation
seen again (same attempt and phase) keeps the state it has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from libs.domain.errors import InvalidArgument
from libs.domain.rule_set import RuleSetError, parse_rule_set
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.ports import MonitoringStore
from services.rules.domain.account_risk import AccountRisk


@dataclass(frozen=True)
class StartMonitoring:
    account_id: uuid.UUID
    user_id: str
    program_id: str
    phase: str
    attempt: int
    rule_set: dict
    platform_account_id: str
    at: datetime


async def start_monitoring(store: MonitoringStore, command: StartMonitoring) -> str:
    try:
        rule_set = parse_rule_set(command.rule_set)
    except RuleSetError as exc:
        raise InvalidArgument(f"the account's rule set is invalid: {exc}", field="rule_set") from None
    existing = await store.get_account(command.account_id, for_update=True)
    if existing is not None and existing.attempt == command.attempt and existing.phase == command.phase:
        if existing.status != MONITORING:
            await store.set_status(existing.account_id, MONITORING)
        return "unchanged"
    account = MonitoredAccount(
        account_id=command.account_id,
        platform_account_id=command.platform_account_id,
        user_id=command.user_id,
        program_id=command.program_id,
        phase=command.phase,
        attempt=command.attempt,
        rule_set=command.rule_set,
        status=MONITORING,
        snapshot=None,
        last_event_at=None,
        last_event_row=None,
    )
    fresh = AccountRisk(rule_set)
    await store.activate(account, fresh.to_snapshot(), fresh.status.value, command.at)
    return "started"
