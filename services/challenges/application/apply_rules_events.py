"""Events from the rules service, delivered through its outbox to our inbox (ADR 0050 is the contract):

- AccountBreached {account_id, rule, at}: a hard breach; the running attempt fails, naming the rule.
- AccountPhasePassed {account_id, phase, at}: the phase's target was met under every rule; the account moves on.

The inbox runs each event at most once. An event that no longer fits the account (a breach on a closed account, a
pass reported twice) is refused by the state machine; we record that and keep the inbox moving rather than retrying
forever an event that can never apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from libs.domain.audit import AuditEntry
from libs.domain.errors import InvalidTransition
from services.challenges.application.ports import AccountRepository, AuditLog

log = logging.getLogger(__name__)
RULES_ACTOR = "rules"


@dataclass(frozen=True)
class RulesVerdict:
    event_type: str  # AccountBreached | AccountPhasePassed
    account_id: UUID
    at: datetime
    rule: str | None = None
    phase: str | None = None


async def apply_rules_verdict(accounts: AccountRepository, audit: AuditLog, verdict: RulesVerdict) -> str:
    account = await accounts.get(verdict.account_id, for_update=True)
    if account is None:
        log.warning("%s for unknown account %s ignored", verdict.event_type, verdict.account_id)
        return "unknown_account"
    before = account.status.value
    try:
        if verdict.event_type == "AccountBreached":
            account.breach(verdict.rule or "unspecified", verdict.at)
        else:
            account.phase_passed(verdict.phase or before, verdict.at)
    except InvalidTransition as refused:
        log.warning("%s for account %s refused: %s", verdict.event_type, verdict.account_id, refused.message)
        return "refused"
    await accounts.save(account)
    await audit.append(
        AuditEntry(
            occurred_at=verdict.at,
            actor_id=RULES_ACTOR,
            actor_role="system",
            ip=None,
            action="account.breached" if verdict.event_type == "AccountBreached" else "account.phase_passed",
            subject_type="account",
            subject_id=str(account.account_id),
            before={"status": before},
            after={"status": account.status.value, "rule": verdict.rule, "phase": verdict.phase},
        )
    )
    return account.status.value
