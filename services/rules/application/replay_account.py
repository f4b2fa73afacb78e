"""ReplayAccount: a what-if. Every stored event of an account replayed under another rule set (or its own), through
the same path as live ingestion, in a transaction that is rolled back: nothing changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from libs.domain.errors import InvalidArgument, PermissionDenied
from libs.domain.rule_set import RuleSetError, parse_rule_set
from services.rules.application.ports import UnitOfWorkFactory
from services.rules.application.queries import STAFF, Viewer, parse_account_id, visible_account
from services.rules.application.risk_runner import TakenDecision, replay
from services.rules.application.risk_states import restore
from services.rules.domain.account_risk import AccountRisk


@dataclass(frozen=True)
class ReplayOutcome:
    risk: AccountRisk
    account: object
    decisions: list[TakenDecision]
    events_replayed: int


class ReplayAccountHandler:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, viewer: Viewer, raw_account_id: str, rule_set_json: str) -> ReplayOutcome:
        if viewer.role not in STAFF:
            raise PermissionDenied("only staff may replay an account", reason="PERMISSION_DENIED")
        account_id = parse_account_id(raw_account_id)
        async with self._uow() as uow:
            account = visible_account(await uow.store.get_account(account_id), viewer, raw_account_id)
            if rule_set_json:
                try:
                    document = json.loads(rule_set_json)
                    parse_rule_set(document)
                except (ValueError, RuleSetError) as exc:
                    raise InvalidArgument(
                        f"rule_set_json is not a valid rule set: {exc}", field="rule_set_json"
                    ) from None
                account = replace(account, rule_set=document)
            if account.last_event_at is None:
                return ReplayOutcome(restore(account, None), account, [], 0)
            events = await uow.store.events_for_replay(
                account.account_id, None, (account.last_event_at, account.last_event_row), set()
            )
        risk = restore(account, None)
        decisions = replay(risk, events)
        return ReplayOutcome(risk, account, decisions, len(events))
