"""The news calendar from CSV: restricted tiers open news windows in rule sets with a news block, so a fill inside
one is a conduct violation with the release named; other tiers restrict nothing; a bad row refuses the file."""

from __future__ import annotations

from datetime import UTC, timedelta

import grpc
import pytest

from tests.integration.rules.conftest import Rules, rule_set


async def import_csv(rules: Rules, text: str, role: str = "admin", tiers: tuple[int, ...] = ()):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    return await rules.stub().ImportNewsCalendar(
        pb.ImportNewsCalendarRequest(csv=text, restricted_tiers=list(tiers)), metadata=rules.auth(role=role)
    )


def iso(at) -> str:
    return at.astimezone(UTC).isoformat()


async def test_a_fill_inside_a_restricted_release_window_is_a_news_violation(rules: Rules):
    cpi = rules.start + timedelta(minutes=10)
    minor = rules.start + timedelta(minutes=20)
    reply = await import_csv(rules, f"at,title,instruments,tier\n{iso(cpi)},CPI,ES;NQ,1\n{iso(minor)},Redbook,*,3\n")
    assert (reply.imported, reply.restricted) == (2, 1)
    audit = await rules.query("SELECT action, after FROM rules.audit_log WHERE action = 'news_calendar.imported'")
    assert audit and audit[-1]["after"]["events"] >= 2

    account_id, platform_account, user_id = await rules.activate(
        rules=rule_set(news={"before_seconds": 120, "after_seconds": 120})
    )
    await rules.ingest(rules.platform.trade(platform_account, cpi + timedelta(seconds=30), "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.trade(platform_account, minor, "ES", "sell", 1, "5000.00"))

    violations = await rules.violations(account_id, user_id)
    assert [(v.rule, v.severity) for v in violations] == [("news", "conduct")]
    assert "CPI" in violations[0].evidence_json


async def test_a_bad_calendar_is_refused_whole_and_only_admins_import(rules: Rules):
    at = iso(rules.start)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_csv(rules, f"at,title,instruments,tier\n{at},NFP,*,1\n{at},FOMC,ES,7\n")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "line 3" in refused.value.details()
    nfp = await rules.query(
        "SELECT count(*) AS n FROM rules.news_events WHERE title = 'NFP' AND at = :at", at=rules.start
    )
    assert nfp[0]["n"] == 0
    for bad, problem in [("when,what\n", "header"), (f"at,title,instruments,tier\n{at},X,XYZ,1\n", "instruments")]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await import_csv(rules, bad)
        assert problem in refused.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_csv(rules, "at,title,instruments,tier\n", role="support")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
