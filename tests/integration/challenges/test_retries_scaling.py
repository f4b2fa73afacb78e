"""Resets, free retries and scaling for real (ADR 0054): the catalogue's terms at the gateway, the reset fee through
the Stripe stand-in's checkout, a free retry used once under a replayed request and refused when it cannot apply,
and PayoutCompleted through the inbox stepping a funded account up once per payout, in order, audited and announced
to the rules service through the outbox. Real PostgreSQL, the gateway, our Stripe SDK adapter and YourPropFirm client.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from libs.domain.clock import SystemClock
from libs.platform.db import create_engine, session_factory
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
from services.challenges.domain.account import FundingEligibility
from services.challenges.main import EVENT_ROUTES
from tests.integration.challenges.test_account_lifecycle import audit_actions, deliver, session_id

RESET_BODY = {"success_url": "https://app.test/reset/done", "cancel_url": "https://app.test/accounts"}


async def account_of(purchase, trader, program_id: str) -> dict:
    order = (await purchase.order(trader, program_id=program_id)).json()
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    return account


async def breach(purchase, account: dict, rule: str = "daily_loss") -> None:
    await deliver(purchase, "AccountBreached", {"account_id": account["id"], "rule": rule, "at": now()})


def now() -> str:
    return datetime.now(UTC).isoformat()


async def retry(purchase, trader, account: dict, key: str):
    return await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/retry", headers={**trader, "Idempotency-Key": key}
    )


async def query(database_url: str, sql: str, **params) -> list:
    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(sql), params))
    finally:
        await engine.dispose()


async def test_the_catalogue_shows_each_tiers_reset_fee_free_retries_and_scaling_plan(purchase):
    program = (await purchase.gateway.get("/v1/programs/eval-100k")).json()
    assert program["version"] == 2 and program["status"] == "published"
    assert program["reset_fee"] == {"amount": "129.00", "currency": "USD"} and program["free_retries"] == 1
    assert program["scaling_plan"] == [
        {"after_payouts": 2, "account_size": {"amount": "150000.00", "currency": "USD"}},
        {"after_payouts": 4, "account_size": {"amount": "200000.00", "currency": "USD"}},
    ]
    fifty = (await purchase.gateway.get("/v1/programs/eval-50k")).json()
    assert fifty["reset_fee"]["amount"] == "99.00" and fifty["free_retries"] == 0
    retired = (await purchase.gateway.get("/v1/programs/eval-50k", params={"version": 1})).json()
    assert retired["status"] == "retired" and retired["reset_fee"]["amount"] == "99.60"  # the 40% it was sold with
    monthly = (await purchase.gateway.get("/v1/programs/eval-monthly-50k")).json()
    assert monthly["billing"] == "monthly" and monthly["version"] == 2 and monthly["reset_fee"]["amount"] == "69.00"


async def test_the_reset_fee_of_the_program_is_charged_through_the_stand_ins_checkout(purchase):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-50k")
    assert account["reset_fee"] == {"amount": "99.00", "currency": "USD"} and account["free_retries_left"] == 0
    await breach(purchase, account)
    reply = await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/reset",
        json=RESET_BODY,
        headers={**trader, "Idempotency-Key": f"fee-{account['id']}"},
    )
    assert reply.status_code == 201, reply.text
    order = reply.json()
    session = await asyncio.to_thread(purchase.stripe.v1.checkout.sessions.retrieve, session_id(order))
    assert session.amount_total == 9900 and session.currency == "usd"
    paid = await purchase.pay(session_id(order))
    assert paid  # the stand-in took the payment and sends its webhooks
    (reset,) = await purchase.wait_for_account(trader, status="phase_1")
    assert [a["outcome"] for a in reset["attempts"]] == ["failed", None]


async def test_a_free_retry_is_used_once_under_a_replayed_request_and_refused_when_none_is_left(purchase, database_url):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-100k")
    assert (account["free_retries"], account["free_retries_left"]) == (1, 1)
    await breach(purchase, account)
    key = f"retry-{account['id']}"
    first, replay = await asyncio.gather(retry(purchase, trader, account, key), retry(purchase, trader, account, key))
    assert first.status_code == replay.status_code == 201, (first.text, replay.text)
    assert first.json()["retry_id"] == replay.json()["retry_id"]
    retried = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert retried["status"] == "phase_1" and retried["free_retries_left"] == 0
    assert [(a["number"], a["outcome"]) for a in retried["attempts"]] == [(1, "failed"), (2, None)]
    actions = [a for a, _ in await audit_actions(database_url, account["id"])]
    assert actions.count("account.free_retry") == 1
    # The same new attempt as a paid reset: the platform account is reset once, by the queued job.
    for _ in range(100):
        (on_platform,) = await purchase.platform.accounts_of(account["id"])
        if on_platform["attempt"] == 2:
            break
        await asyncio.sleep(0.05)
    assert on_platform["attempt"] == 2 and on_platform["balance"] == on_platform["startingBalance"]
    activated = await query(
        database_url,
        "SELECT payload FROM challenges.outbox WHERE event_type = 'AccountActivated' AND aggregate_id = :a",
        a=account["id"],
    )
    assert sorted(row.payload["attempt"] for row in activated) == [1, 2]

    await breach(purchase, account)
    none_left = await retry(purchase, trader, account, f"retry-again-{account['id']}")
    assert none_left.status_code == 409 and none_left.json()["reason"] == "NO_FREE_RETRY_LEFT"
    still = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert still["status"] == "failed" and len(still["attempts"]) == 2
    paid = await purchase.gateway.post(
        f"/v1/accounts/{account['id']}/reset",
        json=RESET_BODY,
        headers={**trader, "Idempotency-Key": f"paid-{account['id']}"},
    )
    assert paid.status_code == 201 and paid.json()["price"] == {"amount": "129.00", "currency": "USD"}


async def test_a_free_retry_is_refused_for_fraud_for_a_running_account_and_for_someone_elses(purchase):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-200k")
    running = await retry(purchase, trader, account, f"running-{account['id']}")
    assert running.status_code == 409 and running.json()["current_state"] == "phase_1", running.text
    _, stranger = purchase.trader()
    assert (await retry(purchase, stranger, account, "not-mine")).status_code == 404
    await breach(purchase, account, rule="fraud")
    fraud = await retry(purchase, trader, account, f"fraud-{account['id']}")
    assert fraud.status_code == 409 and fraud.json()["reason"] == "FAILED_FOR_FRAUD"
    after = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert after["status"] == "failed" and after["free_retries_left"] == 1


async def fund(database_url: str, account_id: str) -> None:
    """Arrange: funding has no route yet (KYC and the agreement come from identity), so the test funds the account
    through the domain and the real repository, as a funding use case will."""
    engine = create_engine(database_url, "challenges", pool_size=1)
    try:
        uow = SqlAlchemyChallengesUnitOfWork(
            session_factory(engine), schema="challenges", source="challenges", clock=SystemClock(), routes=EVENT_ROUTES
        )
        async with uow:
            account = await uow.accounts.get(uuid.UUID(account_id), for_update=True)
            at = datetime.now(UTC)
            account.phase_passed("phase_1", at)
            account.phase_passed("phase_2", at)
            account.fund(FundingEligibility(kyc_approved=True, agreement_accepted=True), at)
            await uow.accounts.save(account)
            await uow.commit()
    finally:
        await engine.dispose()


async def payout(purchase, account: dict, payout_id: str, event_id: str | None = None) -> bool:
    """Payout ids are the payouts service's, unique everywhere: each test's are made unique by the account's id."""
    payout_id = f"{payout_id}-{account['id']}"
    body = {
        "account_id": account["id"],
        "payout_id": payout_id,
        "amount": "1250.00",
        "currency": "USD",
        "paid_at": now(),
    }
    return await deliver(purchase, "PayoutCompleted", body, event_id)


async def test_payouts_step_a_funded_account_up_once_per_payout_in_order_audited_and_told_to_rules(
    purchase, database_url
):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-50k")
    await fund(database_url, account["id"])
    event_id = str(uuid.uuid4())
    assert await payout(purchase, account, "po-1", event_id) is False
    assert await payout(purchase, account, "po-1", event_id) is True  # the inbox's duplicate
    assert await payout(purchase, account, "po-1") is False  # the same payout under a new event id
    one = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert one["payouts_counted"] == 1 and one["account_size"]["amount"] == "50000.00" and one["scale_steps"] == []

    await payout(purchase, account, "po-2")
    await payout(purchase, account, "po-2")
    two = (await purchase.gateway.get(f"/v1/admin/accounts/{account['id']}", headers=purchase.staff())).json()
    assert two["payouts_counted"] == 2 and two["account_size"]["amount"] == "75000.00"
    assert [
        (s["step"], s["from_size"]["amount"], s["to_size"]["amount"], s["payout_id"]) for s in two["scale_steps"]
    ] == [(1, "50000.00", "75000.00", f"po-2-{account['id']}")]
    await payout(purchase, account, "po-3")
    await payout(purchase, account, "po-4")
    four = (await purchase.gateway.get(f"/v1/admin/accounts/{account['id']}", headers=purchase.staff())).json()
    assert four["account_size"]["amount"] == "100000.00" and four["payouts_counted"] == 4
    assert [(s["step"], s["to_size"]["amount"], s["payouts"]) for s in four["scale_steps"]] == [
        (1, "75000.00", 2),
        (2, "100000.00", 4),
    ]

    actions = [a for a, _ in await audit_actions(database_url, account["id"])]
    assert actions.count("account.payout_counted") == 4 and actions.count("account.scaled") == 2
    scaled = await query(
        database_url,
        "SELECT destination, payload FROM challenges.outbox WHERE event_type = 'AccountScaled' AND aggregate_id = :a "
        "ORDER BY id",
        a=account["id"],
    )
    assert [(r.destination, r.payload["account_size"], r.payload["step"]) for r in scaled] == [
        ("rules", "75000.00", 1),
        ("rules", "100000.00", 2),
    ]
    rule_set = scaled[-1].payload["rule_set"]
    if isinstance(rule_set, str):
        rule_set = json.loads(rule_set)
    assert rule_set["start_balance"] == "100000.00" and rule_set["drawdown"]["max_loss"] == "8000.00"
    rows = await query(
        database_url,
        "SELECT payout_id, outcome FROM challenges.account_payouts WHERE account_id = :a ORDER BY 1",
        a=account["id"],
    )
    assert [(r.payout_id, r.outcome) for r in rows] == [
        (f"po-1-{account['id']}", "counted"),
        (f"po-2-{account['id']}", "scaled_to_75000.00"),
        (f"po-3-{account['id']}", "counted"),
        (f"po-4-{account['id']}", "scaled_to_100000.00"),
    ]


async def test_a_scaling_step_resets_the_platform_account_at_the_new_size_once_however_often_its_payout_comes(
    purchase, database_url
):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-50k")
    await fund(database_url, account["id"])  # through the domain: no funding reset is queued
    (before,) = await purchase.platform.accounts_of(account["id"])
    await payout(purchase, account, "po-1")
    event_id = str(uuid.uuid4())
    await payout(purchase, account, "po-2", event_id)  # step 1: 50,000 -> 75,000

    for _ in range(100):
        (on_platform,) = await purchase.platform.accounts_of(account["id"])
        if on_platform["attempt"] > before["attempt"]:
            break
        await asyncio.sleep(0.05)
    assert before["startingBalance"] == "50000.00"
    assert (on_platform["startingBalance"], on_platform["balance"]) == ("75000.00", "75000.00")
    assert on_platform["attempt"] == before["attempt"] + 1

    # The payout again, under its event id (the inbox's duplicate) and under a new one (the payout's duplicate).
    assert await payout(purchase, account, "po-2", event_id) is True
    assert await payout(purchase, account, "po-2") is False
    await asyncio.sleep(0.5)  # time for a second reset to be worked, were one queued
    (after,) = await purchase.platform.accounts_of(account["id"])
    assert (after["attempt"], after["startingBalance"]) == (on_platform["attempt"], "75000.00")
    queued = await query(
        database_url,
        "SELECT starting_balance, done_at FROM challenges.platform_resets WHERE account_id = :a",
        a=account["id"],
    )
    assert [(r.starting_balance, r.done_at is not None) for r in queued] == [(Decimal("75000"), True)]


async def test_a_free_retry_after_a_scaled_funded_run_resets_the_platform_account_to_the_size_bought(
    purchase, database_url
):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-100k")
    await fund(database_url, account["id"])
    (before,) = await purchase.platform.accounts_of(account["id"])
    await payout(purchase, account, "po-1")
    await payout(purchase, account, "po-2")  # step 1: 100,000 -> 150,000
    for _ in range(100):
        (scaled,) = await purchase.platform.accounts_of(account["id"])
        if scaled["attempt"] > before["attempt"]:
            break
        await asyncio.sleep(0.05)
    assert scaled["startingBalance"] == "150000.00"

    await breach(purchase, account)
    retried = await retry(purchase, trader, account, f"retry-{account['id']}")
    assert retried.status_code == 201, retried.text
    for _ in range(100):
        (on_platform,) = await purchase.platform.accounts_of(account["id"])
        if on_platform["attempt"] > scaled["attempt"]:
            break
        await asyncio.sleep(0.05)
    assert on_platform["attempt"] == scaled["attempt"] + 1
    assert (on_platform["startingBalance"], on_platform["balance"]) == ("100000.00", "100000.00")


async def test_a_payout_for_an_account_in_evaluation_is_recorded_and_not_counted(purchase, database_url):
    _, trader = purchase.trader()
    account = await account_of(purchase, trader, "eval-50k")
    assert await payout(purchase, account, "po-early") is False
    unchanged = (await purchase.gateway.get(f"/v1/accounts/{account['id']}", headers=trader)).json()
    assert unchanged["payouts_counted"] == 0 and unchanged["status"] == "phase_1"
    rows = await query(
        database_url, "SELECT outcome FROM challenges.account_payouts WHERE account_id = :a", a=account["id"]
    )
    assert [r.outcome for r in rows] == ["not_funded"]


async def test_an_admin_publishes_retry_and_scaling_terms_and_a_bad_plan_is_refused_naming_the_step(purchase):
    import grpc

    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from dynasty.common.v1 import money_pb2
    from libs.platform.grpc_client import insecure_channel
    from libs.platform.grpc_errors import error_info
    from tests.unit.challenges.factories import rule_set

    program_id = f"scaling-{uuid.uuid4().hex[:8]}"
    admin = (("authorization", purchase.staff()["authorization"]),)

    def request(key: str, *plan: tuple[int, int]) -> pb.CreateProgramVersionRequest:
        return pb.CreateProgramVersionRequest(
            request_id=key,
            program_id=program_id,
            name="Scaling test",
            account_size=money_pb2.Money(units=50000, currency_code="USD"),
            price=money_pb2.Money(units=249, currency_code="USD"),
            phases=[
                pb.Phase(kind=pb.PHASE_KIND_PHASE_1, rule_set_json=json.dumps(rule_set())),
                pb.Phase(kind=pb.PHASE_KIND_FUNDED, rule_set_json=json.dumps(rule_set())),
            ],
            reset_fee=money_pb2.Money(units=79, currency_code="USD"),
            free_retries=2,
            scaling_plan=[
                pb.ScalingStep(after_payouts=n, account_size=money_pb2.Money(units=size, currency_code="USD"))
                for n, size in plan
            ],
        )

    async with insecure_channel(purchase.channel_target) as channel:
        stub = pb_grpc.ChallengesServiceStub(channel)
        try:
            await stub.CreateProgramVersion(request(f"{program_id}-bad", (3, 75000), (3, 100000)), metadata=admin)
            raise AssertionError("a plan whose thresholds do not increase was accepted")
        except grpc.aio.AioRpcError as refused:
            assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error_info(refused).metadata["field"] == "scaling_plan[1].after_payouts"
        await stub.CreateProgramVersion(request(f"{program_id}-ok", (3, 75000), (6, 100000)), metadata=admin)
    shown = (await purchase.gateway.get(f"/v1/programs/{program_id}")).json()
    assert shown["version"] == 1  # the refused request published nothing
    assert shown["reset_fee"] == {"amount": "79.00", "currency": "USD"} and shown["free_retries"] == 2
    assert [(s["after_payouts"], s["account_size"]["amount"]) for s in shown["scaling_plan"]] == [
        (3, "75000.00"),
        (6, "100000.00"),
    ]
