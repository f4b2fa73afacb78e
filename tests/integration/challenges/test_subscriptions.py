"""Monthly programs end to end (ADR 0051): the gateway, our Stripe adapter over the official SDK against the
stand-in (subscription-mode Checkout, renewals, failed payments, the end of a subscription, its webhook knobs), the
challenges service on real PostgreSQL, and the billing job driven by a fixed clock."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from libs.domain.clock import FixedClock
from libs.platform.db import create_engine, session_factory
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
from services.challenges.adapters.stripe.payments import StripePayments
from services.challenges.application.enforce_subscription_billing import EnforceSubscriptionBilling, cancel_key
from services.challenges.main import EVENT_ROUTES
from tests.integration.challenges.conftest import STRIPE_KEY
from tests.integration.challenges.signing import sign

MONTHLY = "eval-monthly-50k"


def session_id(order: dict) -> str:
    return order["checkout_url"].rsplit("/", 1)[-1]


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url, "challenges", pool_size=2)
    yield engine
    await engine.dispose()


def billing_job(purchase, db, at: datetime, payments=None) -> EnforceSubscriptionBilling:
    """The service's billing job on the same database and Stripe, with the time the test chooses."""
    clock = FixedClock(at)
    sessions = session_factory(db)

    def uow():
        return SqlAlchemyChallengesUnitOfWork(
            sessions, schema="challenges", source="challenges", clock=clock, routes=EVENT_ROUTES
        )

    payments = payments or StripePayments(STRIPE_KEY, base=str(purchase.stripe_control.base_url))
    return EnforceSubscriptionBilling(uow, payments, clock)


async def subscribe(purchase, trader) -> tuple[dict, dict, str]:
    reply = await purchase.order(trader, program_id=MONTHLY)
    assert reply.status_code == 201, reply.text
    order = reply.json()
    await purchase.pay(session_id(order))
    (account,) = await purchase.wait_for_account(trader)
    await purchase.deliveries_idle()
    account = await get_account(purchase, trader, account["id"])
    subscription_id = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).subscription
    return order, account, subscription_id


async def get_account(purchase, headers, account_id: str) -> dict:
    reply = await purchase.gateway.get(f"/v1/accounts/{account_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def control(purchase, path: str, **body) -> dict:
    reply = await purchase.stripe_control.post(path, json=body)
    assert reply.status_code == 200, reply.text
    await purchase.deliveries_idle()
    return reply.json()


async def audit_actions(db, account_id: str) -> list[str]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM challenges.audit_log WHERE subject_id = :s ORDER BY id"), {"s": account_id}
        )
        return [r.action for r in rows]


async def announced(db, account_id: str) -> list[tuple[str, str]]:
    """What the rules service is told about the account (the outbox), as (event type, status)."""
    async with db.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_type, payload FROM challenges.outbox WHERE destination = 'rules' "
                "AND payload->>'account_id' = :a ORDER BY id"
            ),
            {"a": account_id},
        )
        return [
            (r.event_type, (r.payload if isinstance(r.payload, dict) else json.loads(r.payload)).get("status", ""))
            for r in rows
        ]


def parse(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


async def test_a_monthly_program_is_listed_as_monthly_and_bought_through_a_subscription_checkout(purchase):
    programs = (await purchase.gateway.get("/v1/programs", params={"page_size": 200})).json()["programs"]
    billing = {p["id"]: p["billing"] for p in programs}
    assert billing[MONTHLY] == "monthly" and billing["eval-50k"] == "one_time"
    _, trader = purchase.trader()
    order, account, subscription_id = await subscribe(purchase, trader)
    session = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order))
    assert session.mode == "subscription"
    subscription = purchase.stripe.v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "active" and subscription.metadata["order_id"] == order["id"]
    price = subscription["items"]["data"][0]["price"]
    assert price["recurring"]["interval"] == "month" and price["unit_amount"] == 14900
    assert account["status"] == "phase_1" and account["billing"] == "monthly"
    assert account["subscription_status"] == "active" and account["grace_until"] is None
    paid_through = parse(account["paid_through"])
    assert timedelta(days=27) < paid_through - datetime.now(UTC) < timedelta(days=32)
    # A one-time program's account says so and carries no subscription fields.
    _, other = purchase.trader()
    one_time = (await purchase.order(other)).json()
    await purchase.pay(session_id(one_time))
    (plain,) = await purchase.wait_for_account(other)
    assert plain["billing"] == "one_time" and plain["paid_through"] is None and plain["subscription_status"] is None


async def test_a_paid_renewal_extends_paid_through_once(purchase, db):
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    first = parse(account["paid_through"])
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    renewed = await get_account(purchase, trader, account["id"])
    assert parse(renewed["paid_through"]) > first + timedelta(days=27)
    assert renewed["status"] == "phase_1" and renewed["subscription_status"] == "active"
    assert (await audit_actions(db, account["id"])).count("account.subscription_extended") == 2  # first + renewal


async def test_a_failed_payment_opens_grace_then_suspends_and_a_paid_invoice_reinstates(purchase, db):
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    paid_through = account["paid_through"]
    invoice = await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew", outcome="declined")
    in_grace = await get_account(purchase, trader, account["id"])
    assert in_grace["status"] == "phase_1"  # trading continues during grace
    assert in_grace["subscription_status"] == "past_due" and in_grace["paid_through"] == paid_through
    grace_until = parse(in_grace["grace_until"])
    assert timedelta(days=2, hours=23) < grace_until - datetime.now(UTC) <= timedelta(days=3)

    # Before the deadline the billing job leaves it alone; after it, the account is suspended for non-payment.
    # (Counts are at least: the job sweeps the whole database, which other tests' accounts share.)
    await billing_job(purchase, db, grace_until - timedelta(minutes=1)).run_once()
    assert (await get_account(purchase, trader, account["id"]))["status"] == "phase_1"
    late = billing_job(purchase, db, grace_until + timedelta(seconds=1))
    assert (await late.run_once())["suspended"] >= 1
    await late.run_once()  # the next pass changes nothing more for this account (checked by the audit below)
    suspended = await get_account(purchase, trader, account["id"])
    assert suspended["status"] == "suspended" and suspended["grace_until"] is None
    assert ("AccountStatusChanged", "suspended") in await announced(db, account["id"])

    # The trader pays the open invoice: the account goes back to phase 1, paid through the new period.
    await control(purchase, f"/_standin/invoices/{invoice['id']}/pay")
    restored = await get_account(purchase, trader, account["id"])
    assert restored["status"] == "phase_1" and restored["subscription_status"] == "active"
    assert parse(restored["paid_through"]) > parse(paid_through)
    assert (await announced(db, account["id"]))[-1] == ("AccountStatusChanged", "phase_1")
    actions = await audit_actions(db, account["id"])
    assert actions.count("account.grace_period_opened") == 1
    assert actions.count("account.suspended_for_non_payment") == 1
    assert actions.count("account.account_reinstated_after_payment") == 1


async def test_the_end_of_the_subscription_closes_a_running_evaluation(purchase):
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew", outcome="declined")
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/end_after_failed_payments")
    closed = await get_account(purchase, trader, account["id"])
    assert closed["status"] == "closed" and closed["subscription_status"] == "ended"
    assert closed["attempts"][-1]["outcome"] == "closed"


async def test_a_passed_evaluation_stops_being_billed_and_the_end_leaves_it_passed(purchase, db):
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    # The rules service is not part of this test: the account is marked passed directly, as its events would.
    async with db.begin() as conn:
        await conn.execute(
            text(
                "UPDATE challenges.trading_accounts SET status = 'passed', row_version = row_version + 1 "
                "WHERE account_id = :a"
            ),
            {"a": account["id"]},
        )
    job = billing_job(purchase, db, datetime.now(UTC))
    assert (await job.run_once())["cancelled"] >= 1
    await purchase.deliveries_idle()
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    after = await get_account(purchase, trader, account["id"])
    assert after["status"] == "passed" and after["subscription_status"] == "ended"
    await job.run_once()  # nothing left to cancel for this account: no second cancellation recorded
    assert (await audit_actions(db, account["id"])).count("account.subscription_cancelled_evaluation_over") == 1
    # Stripe ignores idempotency keys on DELETE and refuses a second cancel; our adapter takes that as done, so a
    # pass that crashed after Stripe cancelled and before our commit completes on the next pass.
    payments = StripePayments(STRIPE_KEY, base=str(purchase.stripe_control.base_url))
    await payments.cancel_subscription(subscription_id, idempotency_key=cancel_key(uuid.UUID(account["id"])))


class WebhookFirst(StripePayments):
    """Our Stripe adapter, but a cancellation returns only once Stripe's customer.subscription.deleted for it has been
    delivered and applied: the order the busy test machine produced when the flaky run failed."""

    def __init__(self, purchase) -> None:
        super().__init__(STRIPE_KEY, base=str(purchase.stripe_control.base_url))
        self._purchase = purchase

    async def cancel_subscription(self, subscription_id: str, *, idempotency_key: str) -> bool:
        cancelled = await super().cancel_subscription(subscription_id, idempotency_key=idempotency_key)
        await self._purchase.deliveries_idle()
        return cancelled


async def test_the_jobs_cancellation_is_recorded_even_when_stripes_event_for_it_lands_first(purchase, db):
    _, trader = purchase.trader()
    _, account, _subscription_id = await subscribe(purchase, trader)
    async with db.begin() as conn:
        await conn.execute(
            text(
                "UPDATE challenges.trading_accounts SET status = 'passed', row_version = row_version + 1 "
                "WHERE account_id = :a"
            ),
            {"a": account["id"]},
        )
    job = billing_job(purchase, db, datetime.now(UTC), payments=WebhookFirst(purchase))
    assert (await job.run_once())["cancelled"] >= 1
    after = await get_account(purchase, trader, account["id"])
    assert after["status"] == "passed" and after["subscription_status"] == "ended"
    actions = await audit_actions(db, account["id"])
    assert actions.count("account.subscription_ended_account_unaffected") == 1  # Stripe's event recorded the end
    assert actions.count("account.subscription_cancelled_evaluation_over") == 1  # and the job its cancellation
    await job.run_once()
    assert (await audit_actions(db, account["id"])) == actions


@pytest.mark.parametrize(
    "knobs", [{"duplicates": 2}, {"order": "reverse", "window_size": 8, "window_wait_seconds": 0.3}]
)
async def test_duplicated_or_reversed_invoice_events_give_the_same_end_state(purchase, db, knobs):
    await purchase.configure(**knobs)
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    invoice = await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew", outcome="declined")
    await control(purchase, f"/_standin/invoices/{invoice['id']}/pay")
    final = await get_account(purchase, trader, account["id"])
    assert final["status"] == "phase_1" and final["subscription_status"] == "active"
    assert final["grace_until"] is None
    period_end = max(line["period"]["end"] for line in invoice["lines"]["data"])
    assert parse(final["paid_through"]) == datetime.fromtimestamp(period_end, UTC)
    actions = await audit_actions(db, account["id"])
    # First invoice, renewal, the retried invoice: one extension each, however often and in whatever order they came.
    assert actions.count("account.subscription_extended") == 3
    assert actions.count("account.grace_period_opened") <= 1  # none if the failure arrived after its payment
    accounts = (await purchase.gateway.get("/v1/accounts", headers=trader)).json()["accounts"]
    assert len(accounts) == 1 and len(await purchase.platform.accounts_of(account["id"])) == 1


async def test_replayed_and_late_invoice_events_change_nothing(purchase, db):
    _, trader = purchase.trader()
    _, account, subscription_id = await subscribe(purchase, trader)
    invoice = await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew", outcome="declined")
    await control(purchase, f"/_standin/invoices/{invoice['id']}/pay")
    settled = await get_account(purchase, trader, account["id"])
    audited = await audit_actions(db, account["id"])
    # The events exactly as Stripe stored them (raw JSON, as it would send them again).
    listed = await purchase.stripe_control.get(
        "/v1/events", params={"limit": 100}, headers={"authorization": f"Bearer {STRIPE_KEY}"}
    )
    mine = [
        e
        for e in listed.json()["data"]
        if e["type"] in ("invoice.paid", "invoice.payment_failed")
        and e["data"]["object"]["parent"]["subscription_details"]["subscription"] == subscription_id
    ]
    assert {e["type"] for e in mine} == {"invoice.paid", "invoice.payment_failed"}
    for event in mine:
        # The same event again (deduplicated by its id), and as a new event about the same invoice (by the invoice).
        for copy in (event, {**event, "id": f"evt_late_{uuid.uuid4().hex}"}):
            body = json.dumps(copy).encode()
            signature = sign(body)
            reply = await purchase.gateway.post(
                "/v1/webhooks/stripe",
                content=body,
                headers={"stripe-signature": signature, "content-type": "application/json"},
            )
            assert reply.status_code == 200, reply.text
    assert await get_account(purchase, trader, account["id"]) == settled
    assert await audit_actions(db, account["id"]) == audited


async def test_a_chargeback_of_a_monthly_charge_suspends_the_account_and_its_payment_events_pay_nothing_twice(purchase):
    _, trader = purchase.trader()
    order, account, subscription_id = await subscribe(purchase, trader)
    invoice = await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    intent = invoice["payments"]["data"][0]["payment"]["payment_intent"]
    charge = purchase.stripe.v1.payment_intents.retrieve(intent).latest_charge
    # The invoice's own payment_intent.succeeded events never count as a second payment of the order.
    assert purchase.stripe.v1.refunds.list(params={"payment_intent": intent}).data == []
    paid = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert paid["status"] == "paid"
    await control(purchase, f"/_standin/charges/{charge}/dispute", reason="fraudulent")
    disputed = await get_account(purchase, trader, account["id"])
    assert disputed["status"] == "suspended"
    # Paying the next invoice does not lift a chargeback's suspension (only non-payment's).
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    assert (await get_account(purchase, trader, account["id"]))["status"] == "suspended"


async def test_an_admin_publishes_a_monthly_version_and_a_bad_billing_term_is_refused_naming_the_field(purchase):
    import grpc

    from dynasty.challenges.v1 import challenges_service_pb2 as pb
    from dynasty.challenges.v1 import challenges_service_pb2_grpc as pb_grpc
    from dynasty.common.v1 import money_pb2
    from libs.platform.grpc_client import insecure_channel
    from tests.unit.challenges.factories import rule_set

    program_id = f"sub-{uuid.uuid4().hex[:8]}-50k"
    admin = (("authorization", purchase.staff()["authorization"]),)

    def request(request_id: str, billing: str) -> pb.CreateProgramVersionRequest:
        return pb.CreateProgramVersionRequest(
            request_id=request_id,
            program_id=program_id,
            name="Monthly 50K",
            account_size=money_pb2.Money(units=50000, currency_code="USD"),
            price=money_pb2.Money(units=99, currency_code="USD"),
            phases=[pb.Phase(kind=pb.PHASE_KIND_PHASE_1, rule_set_json=json.dumps(rule_set()))],
            billing=billing,
        )

    async with insecure_channel(purchase.channel_target) as channel:
        stub = pb_grpc.ChallengesServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateProgramVersion(request(uuid.uuid4().hex, "weekly"), metadata=admin, timeout=5)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "billing" in refused.value.details()
        created = await stub.CreateProgramVersion(request(uuid.uuid4().hex, "monthly"), metadata=admin, timeout=5)
    assert created.program.billing == "monthly"
    shown = (await purchase.gateway.get(f"/v1/programs/{program_id}")).json()
    assert shown["billing"] == "monthly" and shown["price"] == {"amount": "99.00", "currency": "USD"}


async def test_a_second_subscription_for_a_paid_order_is_cancelled_and_refunded(purchase, db):
    _, trader = purchase.trader()
    order, account, first_subscription = await subscribe(purchase, trader)
    # A second checkout of the same order (an old tab): Stripe makes a second subscription and charges it.
    price = purchase.stripe.v1.subscriptions.retrieve(first_subscription)["items"]["data"][0]["price"]["id"]
    second = purchase.stripe.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "success_url": "https://app.test/done",
            "client_reference_id": order["id"],
            "metadata": {"order_id": order["id"]},
            "subscription_data": {"metadata": {"order_id": order["id"]}},
            "line_items": [{"quantity": 1, "price": price}],
        }
    )
    await purchase.pay(second.id)
    await purchase.deliveries_idle()
    duplicate = purchase.stripe.v1.checkout.sessions.retrieve(second.id).subscription
    assert purchase.stripe.v1.subscriptions.retrieve(duplicate).status == "canceled"
    invoice = purchase.stripe.v1.invoices.list(params={"subscription": duplicate}).data[0]
    intent = invoice["payments"]["data"][0]["payment"]["payment_intent"]
    (refund,) = purchase.stripe.v1.refunds.list(params={"payment_intent": intent}).data
    assert refund.status == "succeeded"
    # The trader keeps one account, on the first subscription, untouched by the duplicate's end.
    accounts = (await purchase.gateway.get("/v1/accounts", headers=trader)).json()["accounts"]
    assert [a["id"] for a in accounts] == [account["id"]]
    kept = await get_account(purchase, trader, account["id"])
    assert kept["status"] == "phase_1" and kept["subscription_status"] == "active"
    assert purchase.stripe.v1.subscriptions.retrieve(first_subscription).status == "active"


async def cancel(purchase, headers, account_id: str, key: str | None = None):
    return await purchase.gateway.post(
        f"/v1/accounts/{account_id}/subscription/cancel",
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def test_a_trader_cancels_at_period_end_keeps_trading_and_the_period_end_closes_the_evaluation(purchase, db):
    _, trader = purchase.trader()
    order, account, subscription_id = await subscribe(purchase, trader)
    shown = (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()
    assert shown["billing"] == "monthly"
    # Someone else's account is not theirs to cancel (and not revealed); nothing changes at Stripe.
    _, stranger = purchase.trader()
    assert (await cancel(purchase, stranger, account["id"])).status_code == 404
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).cancel_at_period_end is False

    reply = await cancel(purchase, trader, account["id"], key="stop-1")
    assert reply.status_code == 200, reply.text
    cancelled = reply.json()
    # The month paid for is kept: still trading, still active, ending when the paid period ends.
    assert cancelled["status"] == "phase_1" and cancelled["subscription_status"] == "active"
    assert cancelled["subscription_cancel_at"] == account["paid_through"]
    subscription = purchase.stripe.v1.subscriptions.retrieve(subscription_id)
    assert subscription.cancel_at_period_end is True and subscription.status == "active"
    await purchase.deliveries_idle()  # Stripe's customer.subscription.updated agrees and changes nothing more
    # The same request again, and a second click under a new key: the same answer, one cancellation.
    assert (await cancel(purchase, trader, account["id"], key="stop-1")).json() == cancelled
    again = await cancel(purchase, trader, account["id"])
    assert again.status_code == 200 and again.json()["subscription_cancel_at"] == cancelled["subscription_cancel_at"]
    await purchase.deliveries_idle()
    assert await get_account(purchase, trader, account["id"]) == cancelled
    assert (await audit_actions(db, account["id"])).count("account.subscription_cancel_requested") == 1
    # The trader changes their mind in Stripe's portal: the account follows Stripe (a renewal's update would not);
    # then they cancel again through us, and Stripe is asked again.
    purchase.stripe.v1.subscriptions.update(subscription_id, params={"cancel_at_period_end": False})
    await purchase.deliveries_idle()
    assert (await get_account(purchase, trader, account["id"]))["subscription_cancel_at"] is None
    again = await cancel(purchase, trader, account["id"])
    assert again.json()["subscription_cancel_at"] == cancelled["subscription_cancel_at"]
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).cancel_at_period_end is True
    await purchase.deliveries_idle()
    actions = await audit_actions(db, account["id"])
    assert actions.count("account.subscription_cancel_undone") == 1
    assert actions.count("account.subscription_cancel_requested") == 2

    # The period ends: Stripe ends the subscription instead of renewing it, and the running evaluation closes.
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    assert purchase.stripe.v1.invoices.list(params={"subscription": subscription_id}).data[0].id  # only the first
    assert len(purchase.stripe.v1.invoices.list(params={"subscription": subscription_id}).data) == 1
    closed = await get_account(purchase, trader, account["id"])
    assert closed["status"] == "closed" and closed["subscription_status"] == "ended"
    # An ended subscription cannot be cancelled again; a one-time account has none to cancel.
    ended = await cancel(purchase, trader, account["id"])
    assert ended.status_code == 409 and "SUBSCRIPTION_ENDED" in ended.text
    _, other = purchase.trader()
    one_time = (await purchase.order(other)).json()
    await purchase.pay(session_id(one_time))
    (plain,) = await purchase.wait_for_account(other)
    refused = await cancel(purchase, other, plain["id"])
    assert refused.status_code == 409 and "NOT_A_SUBSCRIPTION" in refused.text
    assert (await get_account(purchase, other, plain["id"]))["status"] == "phase_1"


def paid_intents(purchase, subscription_id: str) -> list[str]:
    """The payment intents of the subscription's paid invoices, oldest first."""
    invoices = purchase.stripe.v1.invoices.list(params={"subscription": subscription_id, "status": "paid"}).data
    return [i["payments"]["data"][0]["payment"]["payment_intent"] for i in reversed(invoices)]


async def test_an_admin_refund_of_a_monthly_account_refunds_the_latest_month_cancels_and_closes(purchase, db):
    _, trader = purchase.trader()
    order, account, subscription_id = await subscribe(purchase, trader)
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    first, latest = paid_intents(purchase, subscription_id)
    admin = {**purchase.staff("admin"), "Idempotency-Key": f"refund-{account['id']}"}
    url = f"/v1/admin/accounts/{account['id']}/refund"
    reply = await purchase.gateway.post(url, json={"reason": "trader asked on day one"}, headers=admin)
    assert reply.status_code == 200, reply.text
    refunded = reply.json()
    assert refunded["account"]["status"] == "closed" and refunded["account"]["subscription_status"] == "ended"
    (refund,) = purchase.stripe.v1.refunds.list(params={"payment_intent": latest}).data
    assert refund.id == refunded["refund_id"] and refund.amount == 14900
    assert purchase.stripe.v1.refunds.list(params={"payment_intent": first}).data == []  # earlier months stay paid
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    await purchase.deliveries_idle()  # charge.refunded and customer.subscription.deleted find it all done
    assert (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()["status"] == "refunded"
    actions = await audit_actions(db, account["id"])
    assert actions.count("account.refunded") == 1
    assert ("AccountStatusChanged", "closed") in await announced(db, account["id"])
    # The admin's retry with the same key answers the same refund and moves no more money.
    replay = await purchase.gateway.post(url, json={"reason": "trader asked on day one"}, headers=admin)
    assert replay.status_code == 200 and replay.json()["refund_id"] == refunded["refund_id"]
    assert len(purchase.stripe.v1.refunds.list(params={"payment_intent": latest}).data) == 1
    # A new request for the refunded account is refused, naming why.
    other = await purchase.gateway.post(
        url, json={"reason": "again"}, headers={**admin, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert other.status_code == 409 and "refunded" in other.text
    assert await audit_actions(db, account["id"]) == actions


async def test_a_dashboard_refund_of_an_earlier_month_is_recorded_and_of_the_latest_closes_the_account(purchase, db):
    _, trader = purchase.trader()
    order, account, subscription_id = await subscribe(purchase, trader)
    await control(purchase, f"/_standin/subscriptions/{subscription_id}/renew")
    first, latest = paid_intents(purchase, subscription_id)
    # Support refunds the first month from Stripe's dashboard: recorded, the evaluation goes on.
    purchase.stripe.v1.refunds.create(params={"payment_intent": first})
    await purchase.deliveries_idle()
    kept = await get_account(purchase, trader, account["id"])
    assert kept["status"] == "phase_1" and kept["subscription_status"] == "active"
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).status == "active"
    async with db.connect() as conn:
        audited = await conn.execute(
            text("SELECT action FROM challenges.audit_log WHERE subject_id = :o ORDER BY id"), {"o": order["id"]}
        )
        assert "order.earlier_invoice_refunded" in [r.action for r in audited]
    # Then the latest month: the subscription is cancelled at Stripe, the order refunded and the account closed.
    purchase.stripe.v1.refunds.create(params={"payment_intent": latest})
    await purchase.deliveries_idle()
    assert purchase.stripe.v1.subscriptions.retrieve(subscription_id).status == "canceled"
    closed = await get_account(purchase, trader, account["id"])
    assert closed["status"] == "closed" and closed["subscription_status"] == "ended"
    assert (await purchase.gateway.get(f"/v1/orders/{order['id']}", headers=trader)).json()["status"] == "refunded"
    assert (await audit_actions(db, account["id"])).count("account.refunded") == 1
