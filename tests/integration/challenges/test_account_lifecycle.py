"""The account after purchase: provisioning that survives a failing platform, the live notice, the rules service's
verdicts through the inbox, admin suspension and reinstatement (audited), refunds and chargebacks from Stripe."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from libs.platform.redis import create_redis
from services.challenges.adapters.notices import user_channel


def session_id(order: dict) -> str:
    return order["checkout_url"].rsplit("/", 1)[-1]


async def active_account(purchase, trader) -> dict:
    order = (await purchase.order(trader)).json()
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    return account


async def audit_actions(database_url: str, subject_id: str) -> list[tuple[str, str]]:
    from libs.platform.db import create_engine

    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT action, actor_id FROM challenges.audit_log WHERE subject_id = :s ORDER BY id"),
                {"s": subject_id},
            )
            return [(r.action, r.actor_id) for r in rows]
    finally:
        await engine.dispose()


async def deliver(purchase, event_type: str, payload: dict, event_id: str | None = None) -> bool:
    from dynasty.events.v1 import events_service_pb2 as pb
    from dynasty.events.v1 import events_service_pb2_grpc as pb_grpc
    from libs.platform.grpc_client import insecure_channel

    request = pb.DeliverEventRequest(
        event_id=event_id or str(uuid.uuid4()),
        event_type=event_type,
        source="rules",
        aggregate_id=payload["account_id"],
        aggregate_version=1,
        payload_json=json.dumps(payload),
    )
    request.occurred_at.FromDatetime(datetime.now(UTC))
    async with insecure_channel(purchase.channel_target) as channel:
        reply = await pb_grpc.EventsServiceStub(channel).DeliverEvent(request, timeout=5)
    return reply.duplicate


async def test_a_platform_that_does_the_work_but_loses_the_answer_still_makes_one_account(purchase):
    # Five 503s after the work was done: more than one pass of the client's own retries, so the job is retried
    # too; the same idempotency keys get the first user and account back instead of new ones.
    await purchase.platform.configure(fail_next_calls=5, error_mode="after")
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    assert account["status"] == "phase_1"
    (on_platform,) = await purchase.platform.accounts_of(account["id"])
    assert on_platform["login"] == account["platform_login"]


async def test_a_second_challenge_opens_a_second_account_for_the_same_platform_user(purchase):
    _, trader = purchase.trader()
    first = await active_account(purchase, trader)
    order = (await purchase.order(trader)).json()
    await purchase.pay(session_id(order))
    accounts = await purchase.wait_for_account(trader, count=2)
    on_platform = await purchase.platform.accounts_of(first["id"])
    assert sorted(a["login"] for a in on_platform) == sorted(a["platform_login"] for a in accounts)


async def test_activation_is_announced_on_the_users_redis_channel(purchase, redis_url):
    user_id, trader = purchase.trader()
    redis = create_redis(redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(user_channel(user_id))
    try:
        account = await active_account(purchase, trader)
        notice = None
        for _ in range(100):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                notice = json.loads(message["data"])
                break
        assert notice == {"type": "account.activated", "account_id": account["id"], "status": "phase_1"}
    finally:
        await pubsub.aclose()
        await redis.aclose()


async def test_rules_verdicts_through_the_inbox_move_the_account_once(purchase, database_url):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    at = datetime.now(UTC).isoformat()
    passed_id = str(uuid.uuid4())
    assert (
        await deliver(
            purchase, "AccountPhasePassed", {"account_id": account["id"], "phase": "phase_1", "at": at}, passed_id
        )
        is False
    )
    assert (
        await deliver(
            purchase, "AccountPhasePassed", {"account_id": account["id"], "phase": "phase_1", "at": at}, passed_id
        )
        is True
    )
    moved = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert moved["status"] == "phase_2"
    assert [(a["number"], a["phase"], a["outcome"]) for a in moved["attempts"]] == [
        (1, "phase_1", "passed"),
        (2, "phase_2", None),
    ]

    await deliver(purchase, "AccountBreached", {"account_id": account["id"], "rule": "daily_loss", "at": at})
    failed = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert failed["status"] == "failed" and failed["failed_rule"] == "daily_loss"
    # A late pass for a phase the account has left is refused by the state machine and changes nothing.
    await deliver(purchase, "AccountPhasePassed", {"account_id": account["id"], "phase": "phase_2", "at": at})
    assert (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()["status"] == "failed"
    actions = [a for a, _ in await audit_actions(database_url, account["id"])]
    assert actions[-2:] == ["account.phase_passed", "account.breached"]

    # An admin overturns the breach in the rules service, which tells us: the phase 2 attempt is open again.
    await deliver(
        purchase,
        "AccountBreachOverturned",
        {"account_id": account["id"], "rule": "daily_loss", "at": at, "reason": "bad price print"},
    )
    restored = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert restored["status"] == "phase_2" and restored["failed_rule"] is None
    assert [(a["number"], a["phase"], a["outcome"]) for a in restored["attempts"]][-1] == (2, "phase_2", None)
    actions = [a for a, _ in await audit_actions(database_url, account["id"])]
    assert actions[-1] == "account.breach_overturned"


async def test_admin_suspends_and_reinstates_audited_and_a_trader_cannot(purchase, database_url):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    admin = purchase.staff("admin")
    body = {"reason": "unusual trading reviewed"}
    refused = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/suspend", json=body, headers={**trader, "Idempotency-Key": "k1"}
    )
    assert refused.status_code == 403
    suspended = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/suspend",
        json=body,
        headers={**admin, "Idempotency-Key": "s-" + account["id"]},
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    again = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/suspend",
        json=body,
        headers={**admin, "Idempotency-Key": "s-" + account["id"]},
    )
    assert again.status_code == 200 and again.json()["status"] == "suspended"
    twice = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/suspend",
        json=body,
        headers={**admin, "Idempotency-Key": "s2-" + account["id"]},
    )
    assert twice.status_code == 409 and "suspended" in twice.json()["detail"]
    listed = await purchase.gateway.get("/v1/admin/accounts", params={"status": "suspended"}, headers=admin)
    assert account["id"] in [a["id"] for a in listed.json()["accounts"]]
    back = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/reinstate",
        json={"reason": "cleared"},
        headers={**admin, "Idempotency-Key": "r-" + account["id"]},
    )
    assert back.json()["status"] == "phase_1"
    actions = await audit_actions(database_url, account["id"])
    assert [a for a, _ in actions][-2:] == ["account.suspended", "account.reinstated"]


async def test_a_chargeback_suspends_the_account_and_a_lost_dispute_closes_it(purchase):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    order = (await purchase.gateway.get(f"/v1/orders/{account['order_id']}", headers=trader)).json()
    payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    charge = purchase.stripe.v1.charges.list(params={"payment_intent": payment}).data[0]
    dispute = (
        await purchase.stripe_control.post(f"/_standin/charges/{charge.id}/dispute", json={"reason": "fraudulent"})
    ).json()
    await purchase.wait_for_account(trader, status="suspended")
    await purchase.stripe_control.post(f"/_standin/disputes/{dispute['id']}/close", json={"status": "lost"})
    await purchase.wait_for_account(trader, status="closed")


async def test_a_refund_refunds_the_order_and_closes_its_account(purchase):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    order = (await purchase.gateway.get(f"/v1/orders/{account['order_id']}", headers=trader)).json()
    payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    purchase.stripe.v1.refunds.create(params={"payment_intent": payment})
    await purchase.wait_for_account(trader, status="closed")
    for _ in range(50):
        refunded = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
        if refunded["status"] == "refunded":
            break
        await asyncio.sleep(0.05)
    assert refunded["status"] == "refunded"


async def test_an_admin_refund_goes_through_stripe_once_closes_the_account_and_is_audited(purchase, database_url):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    admin = {**purchase.staff("admin"), "Idempotency-Key": f"refund-{account['id']}"}
    url = f"/v1/admin/accounts/{account['id']}/refund"
    first = await purchase.gateway.post(url, json={"reason": "customer asked within 24h"}, headers=admin)
    assert first.status_code == 200, first.text
    assert first.json()["account"]["status"] == "closed" and first.json()["refund_id"].startswith("re_")
    again = await purchase.gateway.post(url, json={"reason": "customer asked within 24h"}, headers=admin)
    assert again.json()["refund_id"] == first.json()["refund_id"]
    order = (await purchase.gateway.get(f"/v1/orders/{account['order_id']}", headers=trader)).json()
    assert order["status"] == "refunded"
    payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    assert len(purchase.stripe.v1.refunds.list(params={"payment_intent": payment}).data) == 1
    other = {**purchase.staff("admin"), "Idempotency-Key": f"refund-2-{account['id']}"}
    twice = await purchase.gateway.post(url, json={"reason": "again"}, headers=other)
    assert twice.status_code == 409 and twice.json()["reason"] == "NOT_REFUNDABLE"
    await purchase.deliveries_idle()  # the charge.refunded webhook finds the order refunded already: no change
    assert (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()["status"] == "refunded"
    assert ("account.refunded", first.json()["account"]["user_id"]) not in await audit_actions(
        database_url, account["id"]
    )
    assert [a for a, _ in await audit_actions(database_url, account["id"])][-1] == "account.refunded"


async def test_a_paid_reset_starts_a_new_attempt_here_and_on_the_platform_keeping_the_old_one(purchase):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    at = datetime.now(UTC).isoformat()
    await deliver(purchase, "AccountBreached", {"account_id": account["id"], "rule": "max_drawdown", "at": at})
    body = {"success_url": "https://app.test/reset/done", "cancel_url": "https://app.test/accounts"}
    headers = {**trader, "Idempotency-Key": f"reset-{account['id']}"}
    reply = await purchase.gateway.post(f"/v1/accounts/{account['id']}/reset", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    order = reply.json()
    assert order["reset_account_id"] == account["id"] and order["price"] == {"amount": "99.00", "currency": "USD"}
    again = await purchase.gateway.post(f"/v1/accounts/{account['id']}/reset", json=body, headers=headers)
    assert again.json()["id"] == order["id"]
    await purchase.pay(session_id(order))
    (reset,) = await purchase.wait_for_account(trader, status="phase_1")
    assert [(a["number"], a["outcome"], a["failed_rule"]) for a in reset["attempts"]] == [
        (1, "failed", "max_drawdown"),
        (2, None, None),
    ]
    for _ in range(100):
        (on_platform,) = await purchase.platform.accounts_of(account["id"])
        if on_platform["attempt"] == 2:
            break
        await asyncio.sleep(0.05)
    assert on_platform["attempt"] == 2 and on_platform["balance"] == on_platform["startingBalance"]


async def test_a_reset_of_an_account_failed_for_fraud_is_refused_with_the_reason(purchase):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    await deliver(
        purchase, "AccountBreached", {"account_id": account["id"], "rule": "fraud", "at": datetime.now(UTC).isoformat()}
    )
    reply = await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/reset",
        json={"success_url": "https://app.test/ok", "cancel_url": "https://app.test/no"},
        headers={**trader, "Idempotency-Key": f"reset-fraud-{account['id']}"},
    )
    assert reply.status_code == 409 and reply.json()["reason"] == "FAILED_FOR_FRAUD"
    _, stranger = purchase.trader()
    other = await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/reset",
        json={"success_url": "https://app.test/ok", "cancel_url": "https://app.test/no"},
        headers={**stranger, "Idempotency-Key": "reset-not-mine"},
    )
    assert other.status_code == 404


async def test_a_chargeback_of_a_reset_payment_suspends_the_account_it_reset(purchase):
    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    await deliver(
        purchase,
        "AccountBreached",
        {"account_id": account["id"], "rule": "daily_loss", "at": datetime.now(UTC).isoformat()},
    )
    reply = await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/reset",
        json={"success_url": "https://app.test/ok", "cancel_url": "https://app.test/no"},
        headers={**trader, "Idempotency-Key": f"reset-dispute-{account['id']}"},
    )
    order = reply.json()
    await purchase.pay(session_id(order))
    await purchase.wait_for_account(trader, status="phase_1")
    payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    charge = purchase.stripe.v1.charges.list(params={"payment_intent": payment}).data[0]
    await purchase.stripe_control.post(f"/_standin/charges/{charge.id}/dispute", json={"reason": "fraudulent"})
    (suspended,) = await purchase.wait_for_account(trader, status="suspended")
    assert suspended["id"] == account["id"]


async def test_admin_refund_suspend_and_reinstate_over_grpc_need_an_idempotency_key_and_change_nothing_without(
    purchase, database_url
):
    # The gateway always sends one; a direct gRPC caller (admin tooling, the CLI) must not slip past without it.
    import grpc
    import pytest

    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from libs.platform.grpc_client import insecure_channel

    _, trader = purchase.trader()
    account = await active_account(purchase, trader)
    audited_before = await audit_actions(database_url, account["id"])
    metadata = tuple(purchase.staff("admin").items())
    async with insecure_channel(purchase.channel_target) as channel:
        stub = pb_grpc.ChallengesServiceStub(channel)
        for call, request in (
            (stub.RefundAccount, pb.RefundAccountRequest(account_id=account["id"], reason="asked")),
            (stub.SuspendAccount, pb.SuspendAccountRequest(account_id=account["id"], reason="review")),
            (stub.ReinstateAccount, pb.ReinstateAccountRequest(account_id=account["id"], reason="cleared")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(request, metadata=metadata, timeout=5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "idempotency key" in refused.value.details()
    after = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert after["status"] == "phase_1"
    assert await audit_actions(database_url, account["id"]) == audited_before
