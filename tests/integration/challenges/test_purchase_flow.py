"""Buying a challenge end to end on this machine: order through the gateway, pay at the Stripe stand-in, its signed
webhooks through the gateway to the challenges service, the account provisioned on the platform and emailed."""

from __future__ import annotations

import json

from libs.platform.mailbox import read_mailbox
from tests.unit.challenges.factories import rule_set


async def test_a_paid_order_becomes_one_active_account_with_its_rule_set_snapshotted(purchase):
    user_id, trader = purchase.trader()
    ordered = await purchase.order(trader)
    assert ordered.status_code == 201, ordered.text
    order = ordered.json()
    assert order["status"] == "pending" and order["price"] == {"amount": "249.00", "currency": "USD"}
    session_id = order["checkout_url"].rsplit("/", 1)[-1]
    await purchase.pay(session_id)

    (account,) = await purchase.wait_for_account(trader)
    program = (await purchase.gateway.get("/v1/programs/eval-50k")).json()
    assert account["program_id"] == "eval-50k" and account["program_version"] == program["version"]
    assert [p["rule_set"] for p in account["phases"]] == [p["rule_set"] for p in program["phases"]]
    assert account["phases"][0]["rule_set"]["start_balance"] == "50000.00"
    assert [(a["number"], a["phase"]) for a in account["attempts"]] == [(1, "phase_1")]
    (on_platform,) = await purchase.platform.accounts_of(account["id"])
    assert on_platform["login"] == account["platform_login"] and on_platform["startingBalance"] == "50000.00"

    (mail,) = read_mailbox(purchase.mail_dir, to=f"{user_id}@traders.test")
    assert account["platform_login"] in mail.get_content()
    # The platform password is revealed through the route, never mailed (ADR 0045).
    revealed = await purchase.gateway.get(f"/v1/accounts/{account['id']}/credentials", headers=trader)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["login"] == account["platform_login"]
    assert revealed.json()["password"] not in mail.get_content()
    paid = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert paid["status"] == "paid" and paid["account_id"] == account["id"]


async def test_the_same_idempotency_key_returns_the_same_order_and_checkout(purchase):
    _, trader = purchase.trader()
    first = await purchase.order(trader, key="same-key-123")
    second = await purchase.order(trader, key="same-key-123")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["checkout_url"] == second.json()["checkout_url"]
    other = await purchase.order(trader, key="same-key-123", program_id="eval-100k")
    assert other.status_code == 409


async def test_an_order_without_an_idempotency_key_is_refused(purchase):
    _, trader = purchase.trader()
    reply = await purchase.gateway.post(
        "/v1/orders",
        json={"program_id": "eval-50k", "success_url": "https://a.test/", "cancel_url": "https://a.test/"},
        headers=trader,
    )
    assert reply.status_code in (400, 422)


async def test_an_order_for_a_retired_program_version_is_409(purchase):
    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from dynasty.common.v1 import money_pb2
    from libs.platform.grpc_client import insecure_channel

    program_id = f"retire-{purchase.keys.kid[5:]}"
    admin = (("authorization", purchase.staff()["authorization"]),)
    async with insecure_channel(purchase.channel_target) as channel:
        stub = pb_grpc.ChallengesServiceStub(channel)
        for n in (1, 2):
            await stub.CreateProgramVersion(
                pb.CreateProgramVersionRequest(
                    request_id=f"{program_id}-{n}",
                    program_id=program_id,
                    name=f"Retire test v{n}",
                    account_size=money_pb2.Money(units=50000, currency_code="USD"),
                    price=money_pb2.Money(units=100 + n, currency_code="USD"),
                    phases=[pb.Phase(kind=pb.PHASE_KIND_PHASE_1, rule_set_json=json.dumps(rule_set()))],
                ),
                metadata=admin,
                timeout=5,
            )
    _, trader = purchase.trader()
    retired = await purchase.order(trader, program_id=program_id, program_version=1)
    assert retired.status_code == 409
    assert retired.json()["reason"] == "PROGRAM_VERSION_RETIRED"
    current = await purchase.order(trader, program_id=program_id, program_version=2)
    assert current.status_code == 201 and current.json()["price"]["amount"] == "102.00"


async def test_a_trader_sees_only_their_own_accounts(purchase):
    _, alice = purchase.trader()
    _, bob = purchase.trader()
    order = (await purchase.order(alice)).json()
    await purchase.pay(order["checkout_url"].rsplit("/", 1)[-1])
    (account,) = await purchase.wait_for_account(alice)
    assert (await purchase.gateway.get("/v1/accounts", headers=bob)).json()["accounts"] == []
    assert (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=bob)).status_code == 404
    staff_view = await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=purchase.staff("support"))
    assert staff_view.status_code == 200 and staff_view.json()["id"] == account["id"]


async def test_the_same_key_sent_twice_at_once_makes_one_order_and_the_loser_may_retry(purchase):
    import asyncio

    _, trader = purchase.trader()
    replies = await asyncio.gather(*(purchase.order(trader, key="racing-key-1") for _ in range(4)))
    assert {r.status_code for r in replies} <= {201, 409}
    created = {r.json()["id"] for r in replies if r.status_code == 201}
    assert len(created) == 1
    retried = await purchase.order(trader, key="racing-key-1")
    assert retried.status_code == 201 and retried.json()["id"] in created


async def test_checkouts_of_one_program_version_reuse_one_stripe_price(purchase):
    _, trader = purchase.trader()
    sessions = []
    for _ in range(2):
        order = (await purchase.order(trader)).json()
        sessions.append(order["checkout_url"].rsplit("/", 1)[-1])
    prices = {purchase.stripe.v1.checkout.sessions.line_items.list(s).data[0].price.id for s in sessions}
    assert len(prices) == 1
    (price,) = [purchase.stripe.v1.prices.retrieve(p) for p in prices]
    assert price.unit_amount == 24900 and price.lookup_key.startswith("program-version:")
