"""ReviewViolation: an admin overturns a breach caused by a bad tick; the tick leaves the account's record, the
account is active again, enabled on the platform, challenges is told, and the review is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from tests.integration.rules.conftest import Rules, money


async def review(rules: Rules, violation_id: str, decision: str, reason: str, role: str = "admin"):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    return await rules.stub().ReviewViolation(
        pb.ReviewViolationRequest(
            violation_id=violation_id, decision=pb.ReviewDecision.Value(f"REVIEW_DECISION_{decision}"), reason=reason
        ),
        metadata=rules.auth(role=role),
    )


async def breached(rules: Rules) -> tuple[str, str, str, dict]:
    account_id, platform_account, user_id = await rules.activate()
    await rules.sim.post(
        "/_sim/fills", json={"accountId": platform_account, "symbol": "ES", "side": "buy", "size": 1, "price": "5000"}
    )
    t = rules.start
    await rules.ingest(rules.platform.trade(platform_account, t, "ES", "buy", 1, "5000.00"))
    bad_tick = rules.platform.quote(t + timedelta(seconds=5), ES="4900.00")
    await rules.ingest(bad_tick)
    await rules.ingest(rules.platform.quote(t + timedelta(seconds=6), ES="5004.00"))
    assert (await rules.risk(account_id, user_id)).status == "failed"
    await rules.commands(platform_account, count=2)
    return account_id, platform_account, user_id, bad_tick


async def test_overturning_a_bad_tick_breach_restores_the_account_everywhere(rules: Rules):
    account_id, platform_account, user_id, bad_tick = await breached(rules)
    (violation,) = await rules.violations(account_id, user_id)
    assert violation.trigger_event_id == bad_tick["id"]

    reply = await review(rules, violation.violation_id, "OVERTURN", "bad tick: ES never traded at 4900")

    assert (reply.violation.review_status, reply.account_status) == ("overturned", "active")
    state = await rules.risk(account_id, user_id)
    # Without the tick the position stayed open, so the quote after the tick (ES 5004, which the failed account
    # did not hold then) marks it now, as a replay of the stored events without the tick does (ADR 0068); the
    # next price moves it again.
    assert (state.status, money(state.equity)) == ("active", money("50200.00"))
    await rules.ingest(rules.platform.quote(rules.start + timedelta(seconds=7), ES="5006.00"))
    assert money((await rules.risk(account_id, user_id)).equity) == money("50300.00")
    commands = await rules.commands(platform_account, count=3)
    assert [c["command"] for c in commands] == ["flatten", "disable", "enable"]
    assert commands[2]["idempotencyKey"] == f"overturn:{violation.violation_id}:enable"
    outbox = await rules.query(
        "SELECT event_type, payload FROM rules.outbox WHERE aggregate_id = :a ORDER BY id", a=account_id
    )
    assert [r["event_type"] for r in outbox] == ["AccountBreached", "AccountBreachOverturned"]
    assert outbox[1]["payload"]["reason"] == "bad tick: ES never traded at 4900"
    audit = await rules.query(
        "SELECT actor_role, action, before, after FROM rules.audit_log WHERE subject_id = :v",
        v=violation.violation_id,
    )
    assert [(a["actor_role"], a["action"]) for a in audit] == [("admin", "violation.overturned")]
    assert (audit[0]["before"]["account_status"], audit[0]["after"]["account_status"]) == ("failed", "active")

    # Still monitored: a later real drop breaches again, under a new violation.
    await rules.ingest(rules.platform.quote(rules.start + timedelta(seconds=30), ES="4950.00"))
    assert (await rules.risk(account_id, user_id)).status == "failed"


async def test_a_review_is_for_admins_with_a_reason_and_only_once(rules: Rules):
    account_id, _platform, user_id, _tick = await breached(rules)
    (violation,) = await rules.violations(account_id, user_id)
    for role, reason, code in [
        ("support", "looks fine", grpc.StatusCode.PERMISSION_DENIED),
        ("trader", "mine", grpc.StatusCode.PERMISSION_DENIED),
        ("admin", "  ", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await review(rules, violation.violation_id, "OVERTURN", reason, role=role)
        assert refused.value.code() == code
    upheld = await review(rules, violation.violation_id, "UPHOLD", "the price was real")
    assert (upheld.violation.review_status, upheld.account_status) == ("upheld", "failed")
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await review(rules, violation.violation_id, "OVERTURN", "changed my mind")
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
