"""Through the gateway: the simulator's signed webhooks in, risk and violations out, the WebSocket's live notices;
unsigned, stale and forged webhooks are refused and store nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from gateway.routers.ws import RiskThrottle
from tests.integration.rules.conftest import Rules, money


async def wait_until(check, within: float = 10.0):
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def ws_url(rules: Rules) -> str:
    return rules.gateway_url.replace("http://", "ws://") + "/v1/ws"


async def sim_fill(rules: Rules, platform_account: str, side: str, size: int, price: str, symbol: str = "ES"):
    reply = await rules.sim.post(
        "/_sim/fills",
        json={"accountId": platform_account, "symbol": symbol, "side": side, "size": size, "price": price},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


async def test_a_breach_from_the_platforms_webhooks_is_seen_at_the_gateway_and_on_the_websocket(wired: Rules):
    rules = wired
    account_id, platform_account, user_id = await rules.activate()
    token = rules.keys.mint(user_id, "trader")
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(ws_url(rules), subprotocols=["bearer", token]) as socket:
        assert socket.subprotocol == "bearer"
        await rules.sim.post("/_sim/quotes", json={"symbol": "ES", "price": "5000.00"})
        await sim_fill(rules, platform_account, "buy", 1, "5000.00")

        async def risk_moved():
            reply = await rules.gateway.get(f"/v1/accounts/{account_id}/risk", headers=headers)
            return reply.json() if reply.status_code == 200 and reply.json()["as_of"] else None

        risk = await wait_until(risk_moved)
        # The simulator charges 2.50 a side on ES.
        assert money(risk["balance"]) == money("49997.50") and risk["status"] == "active"
        assert money(risk["distance_to_floor"]) == money("1997.50")

        await rules.sim.post("/_sim/quotes", json={"symbol": "ES", "price": "4959.75"})

        notices = []
        while not any(n.get("type") == "violation" for n in notices):
            notices.append(json.loads(await asyncio.wait_for(socket.recv(), timeout=10)))
    assert any(n["type"] == "risk" and n["account_id"] == account_id for n in notices)
    violation = next(n for n in notices if n["type"] == "violation")
    assert (violation["rule"], violation["severity"], violation["account_id"]) == ("max_loss", "hard", account_id)

    listed = (await rules.gateway.get(f"/v1/accounts/{account_id}/violations", headers=headers)).json()
    assert [(v["rule"], v["severity"]) for v in listed["violations"]] == [("max_loss", "hard")]
    evidence = listed["violations"][0]["evidence"]
    assert money(evidence["equity"]) < money(evidence["floor"]) == money("48000.00")
    assert evidence["trigger"]["kind"] == "mark" and evidence["trigger"]["price"] == "4959.75"

    commands = await rules.commands(platform_account, count=2)
    assert [c["command"] for c in commands] == ["flatten", "disable"]
    risk = (await rules.gateway.get(f"/v1/accounts/{account_id}/risk", headers=headers)).json()
    assert (risk["status"], risk["failed_rule"]) == ("failed", "max_loss")

    # Another trader is told the account does not exist.
    stranger = {"Authorization": f"Bearer {rules.keys.mint(str(uuid.uuid4()), 'trader')}"}
    assert (await rules.gateway.get(f"/v1/accounts/{account_id}/risk", headers=stranger)).status_code == 404
    assert (await rules.gateway.get(f"/v1/accounts/{account_id}/violations", headers=stranger)).status_code == 404


@pytest.mark.parametrize("signature", ["invalid", "stale", "none"])
async def test_a_webhook_not_signed_now_with_our_secret_is_a_400_and_stores_nothing(wired: Rules, signature):
    rules = wired
    _account, platform_account, _user = await rules.activate()
    envelope = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    reply = await rules.sim.post("/_sim/webhooks", json={"body": envelope, "signature": signature})
    assert reply.json()["status"] == 400
    stored = await rules.query(
        "SELECT count(*) AS n FROM rules.trade_events WHERE provider_event_id = :e", e=envelope["id"]
    )
    assert stored[0]["n"] == 0


async def test_a_validly_signed_webhook_is_forwarded_once_however_often_it_comes(wired: Rules):
    rules = wired
    account_id, platform_account, user_id = await rules.activate()
    envelope = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50")
    statuses = [
        (await rules.sim.post("/_sim/webhooks", json={"body": envelope, "signature": "valid"})).json()["status"]
        for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    assert money((await rules.risk(account_id, user_id)).balance) == money("49997.50")
    stored = await rules.query(
        "SELECT count(*) AS n FROM rules.trade_events WHERE provider_event_id = :e", e=envelope["id"]
    )
    assert stored[0]["n"] == 1


async def test_a_malformed_but_signed_webhook_is_a_400(wired: Rules):
    malformed = {"id": f"evt_{uuid.uuid4().hex}", "type": "trade"}
    for _ in range(2):  # refused each time it comes, not remembered as seen
        reply = await wired.sim.post("/_sim/webhooks", json={"body": malformed, "signature": "valid"})
        assert reply.json()["status"] == 400


async def test_the_websocket_refuses_a_handshake_without_a_valid_token(wired: Rules):
    for url, protocols in [
        (ws_url(wired), None),
        (ws_url(wired) + "?token=not-a-jwt", None),
        (ws_url(wired), ["bearer", "not-a-jwt"]),
    ]:
        async with websockets.connect(url, subprotocols=protocols) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), timeout=5)
        assert closed.value.rcvd.code == 4401


async def test_the_websocket_takes_the_token_as_a_query_parameter_too(wired: Rules):
    user_id = str(uuid.uuid4())
    token = wired.keys.mint(user_id, "trader")
    async with websockets.connect(f"{ws_url(wired)}?token={token}") as socket:
        await asyncio.sleep(0.3)  # the gateway has subscribed by now
        from redis.asyncio import Redis

        redis = Redis.from_url(wired.redis_url)
        await redis.publish(f"notifications:user:{user_id}", json.dumps({"type": "account", "status": "funded"}))
        await redis.aclose()
        assert json.loads(await asyncio.wait_for(socket.recv(), timeout=5)) == {"type": "account", "status": "funded"}


def test_risk_updates_are_throttled_per_account_and_the_newest_wins():
    now = [0.0]
    throttle = RiskThrottle(interval=0.25, clock=lambda: now[0])
    assert throttle.offer("a", {"n": 1}) is True
    assert throttle.offer("a", {"n": 2}) is False
    assert throttle.offer("a", {"n": 3}) is False
    assert throttle.offer("b", {"n": 1}) is True  # another account has its own budget
    assert throttle.due() == []
    now[0] = 0.25
    assert throttle.due() == [{"n": 3}]
    assert throttle.due() == []
    now[0] = 0.3
    assert throttle.offer("a", {"n": 4}) is False


async def test_an_admin_overturns_a_breach_at_the_gateway(wired: Rules):
    import time
    from datetime import timedelta

    rules = wired
    account_id, platform_account, user_id = await rules.activate()
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.quote(rules.start + timedelta(seconds=5), ES="4900.00"))
    (violation,) = await rules.violations(account_id, user_id)
    admin = rules.keys.mint(str(uuid.uuid4()), "admin", amr=("pwd", "otp"), mfa_at=int(time.time()))
    headers = {"Authorization": f"Bearer {admin}"}
    path = f"/v1/admin/violations/{violation.violation_id}/review"

    assert (
        await rules.gateway.post(path, json={"decision": "maybe", "reason": "x"}, headers=headers)
    ).status_code == 400
    reply = await rules.gateway.post(path, json={"decision": "overturn", "reason": "bad tick"}, headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["violation"]["review_status"], body["account_status"]) == ("overturned", "active")
    queue = (await rules.gateway.get("/v1/admin/violations", headers=headers)).json()["violations"]
    assert violation.violation_id not in {v["violation_id"] for v in queue}
    again = await rules.gateway.post(path, json={"decision": "uphold", "reason": "no"}, headers=headers)
    assert again.status_code == 409
