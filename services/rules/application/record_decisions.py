"""Turn the engine's decisions into durable facts, in the same transaction as the state that produced them.

- every breach and conduct violation becomes a violation row with its evidence (the figures, the trigger, the
  liquidation the engine carried out), deduplicated so a re-evaluation that finds the same decision adds nothing;
- a hard breach (first time only) publishes AccountBreached to challenges and queues the platform enforcement:
  flatten, then disable, under idempotency keys derived from our ids, and a notice to the trader;
- a soft breach queues a flatten (the engine's lockout holds until the day roll) and a notice;
- the engine's flat-by liquidation queues a flatten on the platform;
- a pass (first time only) publishes AccountPhasePassed.
"""

from __future__ import annotations

from services.rules.application.integration_events import AccountBreached, AccountPhasePassed
from services.rules.application.monitored_account import MonitoredAccount
from services.rules.application.ports import MonitoringStore
from services.rules.application.risk_runner import TakenDecision
from services.rules.domain.account_risk import AccountStatus
from services.rules.domain.decisions import (
    BreachDetected,
    PhasePassed,
    PositionsLiquidated,
    RuleName,
    ViolationRecorded,
)

HARD = "hard"


def enforcement_key(account: MonitoredAccount, kind: str) -> str:
    return f"breach:{account.account_id}:{account.attempt}:{kind}"


def _trigger(decision) -> dict:
    trigger = decision.trigger
    return {"kind": getattr(trigger, "kind", "boundary"), **{k: v for k, v in _fields(trigger).items()}}


def _fields(value) -> dict:
    from dataclasses import fields

    return {f.name: getattr(value, f.name) for f in fields(value)}


async def record_decisions(
    store: MonitoringStore,
    account: MonitoredAccount,
    taken: list[TakenDecision],
    status_before: AccountStatus,
    version: int,
) -> list[dict]:
    """Store what `taken` decided; returns live notices of conduct violations (breaches go by a durable job)."""
    notices: list[dict] = []
    liquidations = {
        (t.decision.occurred_at, t.decision.reason.value): t.decision
        for t in taken
        if isinstance(t.decision, PositionsLiquidated)
    }
    already_failed = status_before is AccountStatus.FAILED
    already_passed = status_before is AccountStatus.PASSED
    for item in taken:
        decision = item.decision
        if isinstance(decision, BreachDetected):
            liquidation = liquidations.get((decision.occurred_at, decision.rule.value))
            evidence = {
                "equity": decision.equity,
                "floor": decision.floor,
                "day_pnl": decision.day_pnl,
                "limit": decision.limit,
                "trigger": _trigger(decision),
                "liquidation": None if liquidation is None else [_fields(f) for f in liquidation.fills],
            }
            violation_id = await store.add_violation(
                account,
                rule=decision.rule.value,
                severity=decision.severity,
                occurred_at=decision.occurred_at,
                evidence=evidence,
                trigger_event_id=item.provider_event_id,
                dedup_key=f"{account.account_id}:{account.attempt}:{decision.rule.value}:{decision.severity}:"
                f"{decision.occurred_at.isoformat()}",
            )
            if violation_id is None:
                continue
            notice = {
                "type": "violation",
                "account_id": str(account.account_id),
                "violation_id": str(violation_id),
                "rule": decision.rule.value,
                "severity": decision.severity,
                "at": decision.occurred_at.isoformat(),
                "equity": str(decision.equity),
            }
            if decision.severity == HARD and not already_failed:
                already_failed = True
                await store.publish(
                    AccountBreached(
                        occurred_at=decision.occurred_at,
                        account_id=str(account.account_id),
                        rule=decision.rule.value,
                        at=decision.occurred_at,
                    ),
                    account,
                    version,
                )
                reason = f"{decision.rule.value} breached at {decision.occurred_at.isoformat()}"
                for kind in ("flatten", "disable"):
                    await store.add_job(
                        account,
                        kind,
                        enforcement_key(account, kind),
                        {"platform_account_id": account.platform_account_id, "reason": reason},
                        decision.occurred_at,
                    )
            elif decision.severity != HARD:
                await store.add_job(
                    account,
                    "flatten",
                    f"lockout:{account.account_id}:{account.attempt}:{decision.occurred_at.isoformat()}:flatten",
                    {
                        "platform_account_id": account.platform_account_id,
                        "reason": f"daily loss limit reached at {decision.occurred_at.isoformat()}",
                    },
                    decision.occurred_at,
                )
            await store.add_job(
                account,
                "notify",
                f"notify:{violation_id}",
                {"user_id": account.user_id, "notice": notice},
                decision.occurred_at,
            )
        elif isinstance(decision, ViolationRecorded):
            evidence = {
                "symbol": decision.symbol,
                "exposure": decision.exposure,
                "limit": decision.limit,
                "detail": decision.detail,
                "trigger": _trigger(decision),
            }
            violation_id = await store.add_violation(
                account,
                rule=decision.rule.value,
                severity="conduct",
                occurred_at=decision.occurred_at,
                evidence=evidence,
                trigger_event_id=item.provider_event_id,
                dedup_key=f"{account.account_id}:{account.attempt}:{decision.rule.value}:conduct:"
                f"{decision.symbol}:{decision.occurred_at.isoformat()}",
            )
            if violation_id is not None:
                notices.append(
                    {
                        "type": "violation",
                        "account_id": str(account.account_id),
                        "violation_id": str(violation_id),
                        "rule": decision.rule.value,
                        "severity": "conduct",
                        "at": decision.occurred_at.isoformat(),
                    }
                )
        elif isinstance(decision, PositionsLiquidated) and decision.reason is RuleName.FLAT_BY:
            # The engine closed what was open at the flat-by time; the platform must close it too.
            await store.add_job(
                account,
                "flatten",
                f"flatby:{account.account_id}:{account.attempt}:{decision.occurred_at.isoformat()}:flatten",
                {
                    "platform_account_id": account.platform_account_id,
                    "reason": f"flat-by time {decision.occurred_at.isoformat()}",
                },
                decision.occurred_at,
            )
        elif isinstance(decision, PhasePassed) and not already_passed:
            already_passed = True
            await store.publish(
                AccountPhasePassed(
                    occurred_at=decision.occurred_at,
                    account_id=str(account.account_id),
                    phase=account.phase,
                    at=decision.occurred_at,
                ),
                account,
                version,
            )
    return notices
