"""A breach end to end inside the rules service: fills and quotes in, the violation with its evidence, the
AccountBreached event for challenges in the outbox, flatten then disable received by the platform under our keys,
and the trader's notice on Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import redis.asyncio as aioredis

from tests.integration.rules.conftest import Rules, money


async def test_a_mark_below_the_floor_fails_the_account_and_enforces_it_on_the_platform(rules: Rules, redis_url):
    account_id, platform_account, user_id = await rules.activate()
    listener = aioredis.from_url(redis_url)
    pubsub = listener.pubsub()
    await pubsub.subscribe(f"notifications:user:{user_id}")
    # The simulator's account needs the position too, so its flatten closes something.
    reply = await rules.sim.post(
        "/_sim/fills",
        json={"accountId": platform_account, "symbol": "ES", "side": "buy", "size": 1, "price": "5000.00"},
    )
    assert reply.status_code == 201, reply.text
    await rules.sim.post("/_sim/quotes", json={"symbol": "ES", "price": "4959.75"})

    fill = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    assert await rules.ingest(fill) == ["INGEST_OUTCOME_APPLIED"]
    state = await rules.risk(account_id, user_id)
    assert (state.status, money(state.balance), money(state.floor)) == ("active", money("50000.00"), money("48000"))

    breach_mark = rules.platform.quote(rules.start + timedelta(minutes=5), ES="4959.75")
    assert await rules.ingest(breach_mark) == ["INGEST_OUTCOME_APPLIED"]

    state = await rules.risk(account_id, user_id)
    assert state.status == "failed" and state.failed_rule == "max_loss"
    violations = await rules.violations(account_id, user_id)
    assert [(v.rule, v.severity, v.trigger_event_id) for v in violations] == [("max_loss", "hard", breach_mark["id"])]
    evidence = json.loads(violations[0].evidence_json)
    assert money(evidence["equity"]) == money("47987.50") and money(evidence["floor"]) == money("48000.00")
    assert evidence["trigger"]["kind"] == "mark" and money(evidence["trigger"]["price"]) == money("4959.75")
    assert money(evidence["liquidation"][0]["realized_pnl"]) == money("-2012.50")

    outbox = await rules.query(
        "SELECT destination, event_type, payload FROM rules.outbox WHERE aggregate_id = :a", a=account_id
    )
    assert [(r["destination"], r["event_type"]) for r in outbox] == [("challenges", "AccountBreached")]
    assert outbox[0]["payload"]["rule"] == "max_loss" and outbox[0]["payload"]["account_id"] == account_id

    commands = await rules.commands(platform_account, count=2)
    assert [(c["command"], c["idempotencyKey"], c["status"]) for c in commands] == [
        ("flatten", f"breach:{account_id}:1:flatten", 200),
        ("disable", f"breach:{account_id}:1:disable", 200),
    ]
    snapshot = (
        await rules.sim.get(
            f"/client/v1/accounts/{platform_account}/snapshot", headers={"X-Client-Key": "ypf_rules_client_key"}
        )
    ).json()
    assert snapshot["canTrade"] is False

    notices = []
    deadline = asyncio.get_running_loop().time() + 5
    while not any(n.get("type") == "violation" for n in notices) and asyncio.get_running_loop().time() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            notices.append(json.loads(message["data"]))
    violation_notice = next(n for n in notices if n.get("type") == "violation")
    assert violation_notice["rule"] == "max_loss" and violation_notice["account_id"] == account_id
    await pubsub.aclose()
    await listener.aclose()


async def test_the_platforms_own_flatten_fill_does_not_reopen_what_the_engine_liquidated(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.quote(rules.start + timedelta(minutes=5), ES="4959.75"))
    before = await rules.risk(account_id, user_id)

    echo = rules.platform.trade(
        platform_account,
        rules.start + timedelta(minutes=5, seconds=1),
        "ES",
        "sell",
        1,
        "4959.75",
        order_id="flatten-abc",
    )
    assert await rules.ingest(echo) == ["INGEST_OUTCOME_RECORDED"]
    after = await rules.risk(account_id, user_id)
    assert (after.balance, after.equity) == (before.balance, before.equity)


async def test_a_second_breach_event_after_failure_enforces_nothing_more(rules: Rules):
    account_id, platform_account, _user_id = await rules.activate()
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.quote(rules.start + timedelta(minutes=5), ES="4959.75"))
    await rules.ingest(
        rules.platform.trade(platform_account, rules.start + timedelta(minutes=6), "ES", "buy", 2, "4950.00")
    )
    await rules.ingest(rules.platform.quote(rules.start + timedelta(minutes=7), ES="4900.00"))
    outbox = await rules.query("SELECT event_type FROM rules.outbox WHERE aggregate_id = :a", a=account_id)
    assert [r["event_type"] for r in outbox] == ["AccountBreached"]
    jobs = await rules.query(
        "SELECT kind FROM rules.enforcement_jobs WHERE account_id = CAST(:a AS uuid) ORDER BY id", a=account_id
    )
    assert [j["kind"] for j in jobs] == ["flatten", "disable", "notify"]
