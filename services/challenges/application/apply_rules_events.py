"""Events from the rules service, delivered through its outbox to our inbox (ADR 0050 is the contract):

- AccountBreached {account_id, rule, at}: a hard breach; the running attempt fails, naming the rule.
- AccountPhasePassed {account_id, phase, at}: the phase's target was met under every rule; the account moves on.
- AccountBreachOverturned {account_id, rule, at, reason}: an admin overturned the breach (rules spec section 7);
  the failed attempt is reopened in its phase.

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
AUDIT_ACTIONS = {
    "AccountBreached": "account.breached",
    "AccountPhasePassed": "account.phase_passed",
    "AccountBreachOverturned": "account.breach_overturned",
}


@dataclass(frozen=True)
class RulesVerdict:
    event_type: str  # AccountBreached | AccountPhasePassed | AccountBreachOverturned
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
        elif verdict.event_type == "AccountBreachOverturned":
            account.breach_overturned(verdict.rule or "unspecified", verdict.at)
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
            action=AUDIT_ACTIONS[verdict.event_type],
            subject_type="account",
            subject_id=str(account.account_id),
            before={"status": before},
            after={"status": account.status.value, "rule": verdict.rule, "phase": verdict.phase},
        )
    )
    return account.status.value
