"""ReplayAccount: the account's stored events under another rule set, a what-if that changes nothing; under its own
rule set it ends where the live state is."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
import pytest

from tests.integration.rules.conftest import Rules, money, rule_set


async def trade_a_little(rules: Rules) -> tuple[str, str, str]:
    account_id, platform_account, user_id = await rules.activate()
    t = rules.start
    await rules.ingest(rules.platform.trade(platform_account, t, "ES", "buy", 2, "5000.00", fees="5.00"))
    await rules.ingest(rules.platform.quote(t + timedelta(seconds=10), ES="4994.00"))
    await rules.ingest(rules.platform.trade(platform_account, t + timedelta(seconds=20), "ES", "sell", 2, "4996.00"))
    return account_id, platform_account, user_id


async def replay(rules: Rules, account_id: str, document: dict | None, role: str = "admin"):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    return await rules.stub().ReplayAccount(
        pb.ReplayAccountRequest(account_id=account_id, rule_set_json=json.dumps(document) if document else ""),
        metadata=rules.auth(role=role),
    )


async def test_under_its_own_rule_set_the_replay_ends_at_the_live_state(rules: Rules):
    account_id, _platform, user_id = await trade_a_little(rules)
    live = await rules.risk(account_id, user_id)
    replayed = await replay(rules, account_id, None)
    assert replayed.events_replayed == 3
    figures = ("status", "balance", "equity", "floor", "day_pnl", "trading_days")
    assert [getattr(replayed.state, f) for f in figures] == [getattr(live, f) for f in figures]
    assert money(live.balance) == money("49595.00")  # 2 x -4 points x 50, fees 5


async def test_under_a_stricter_rule_set_it_shows_the_breach_and_changes_nothing(rules: Rules):
    account_id, _platform, user_id = await trade_a_little(rules)
    before = await rules.risk(account_id, user_id)
    replayed = await replay(rules, account_id, rule_set(max_loss="500.00"))
    assert (replayed.state.status, replayed.state.failed_rule) == ("failed", "max_loss")
    breach = next(d for d in replayed.decisions if d.kind == "BreachDetected")
    detail = json.loads(breach.detail_json)
    assert (detail["rule"], money(detail["equity"]), money(detail["floor"])) == (
        "max_loss",
        money("49395.00"),  # marked at 4994: -600 unrealised, fees 5
        money("49500.00"),
    )
    assert await rules.risk(account_id, user_id) == before
    assert await rules.violations(account_id, role="admin") == []


async def test_only_staff_replay_and_a_bad_rule_set_is_refused(rules: Rules):
    account_id, _platform, _user = await trade_a_little(rules)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await replay(rules, account_id, None, role="trader")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await replay(rules, account_id, {"start_balance": "x"})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
