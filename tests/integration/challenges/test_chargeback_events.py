"""A chargeback is announced to identity: the dispute's opening and its outcome leave through challenges' outbox
(routed to identity, in the same transaction as the suspension), whatever state the disputed account is in."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import text

from libs.platform.db import create_engine
from tests.integration.challenges.test_account_lifecycle import active_account, session_id


async def outbox_rows(database_url: str, order_id: str, event_type: str, within: float = 10.0) -> list[dict]:
    engine = create_engine(database_url, "challenges", pool_size=1)
    deadline = asyncio.get_running_loop().time() + within
    try:
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT destination, aggregate_id, payload FROM challenges.outbox "
                            "WHERE event_type = :t AND payload->>'order_id' = :o ORDER BY id"
                        ),
                        {"t": event_type, "o": order_id},
                    )
                ).mappings()
                found = [dict(r) for r in rows]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def dispute(purchase, trader, account) -> tuple[dict, dict]:
    order = (await purchase.gateway.get(f"/v1/orders/{account['order_id']}", headers=trader)).json()
    payment = purchase.stripe.v1.checkout.sessions.retrieve(session_id(order)).payment_intent
    charge = purchase.stripe.v1.charges.list(params={"payment_intent": payment}).data[0]
    opened = await purchase.stripe_control.post(f"/_standin/charges/{charge.id}/dispute", json={"reason": "fraudulent"})
    assert opened.status_code == 200, opened.text
    return order, opened.json()


async def test_an_opened_dispute_sends_identity_the_user_the_account_and_the_dispute(purchase, database_url):
    user_id, trader = purchase.trader()
    account = await active_account(purchase, trader)
    order, opened = await dispute(purchase, trader, account)
    await purchase.wait_for_account(trader, status="suspended")

    (row,) = await outbox_rows(database_url, order["id"], "ChargebackOpened")
    assert row["destination"] == "identity"
    assert row["aggregate_id"] == order["id"]
    payload = row["payload"]
    assert payload["user_id"] == user_id
    assert payload["account_id"] == account["id"]
    assert payload["dispute_id"] == opened["id"]
    assert payload["reason"] == "fraudulent"
    assert Decimal(payload["amount"]["amount"]) * 100 == opened["amount"]  # Stripe's minor units, exactly
    assert payload["amount"]["currency"] == opened["currency"].upper()
    assert payload["payment_intent_id"].startswith("pi_")

    # Won: the account is reinstated and identity hears the outcome (it keeps the flag for staff; ADR 0057).
    await purchase.stripe_control.post(f"/_standin/disputes/{opened['id']}/close", json={"status": "won"})
    await purchase.wait_for_account(trader, status="phase_1")
    (closed,) = await outbox_rows(database_url, order["id"], "ChargebackClosed")
    assert closed["destination"] == "identity"
    assert closed["payload"]["dispute_id"] == opened["id"]
    assert closed["payload"]["status"] == "won"


async def test_a_dispute_of_an_account_already_stopped_still_reaches_identity(purchase, database_url):
    user_id, trader = purchase.trader()
    account = await active_account(purchase, trader)
    admin = purchase.staff("admin")
    suspended = await purchase.gateway.post(
        f"/v1/admin/accounts/{account['id']}/suspend",
        json={"reason": "looked odd"},
        headers={**admin, "Idempotency-Key": "s-" + account["id"]},
    )
    assert suspended.status_code == 200, suspended.text
    order, opened = await dispute(purchase, trader, account)

    (row,) = await outbox_rows(database_url, order["id"], "ChargebackOpened")
    assert row["payload"]["user_id"] == user_id
    assert row["payload"]["dispute_id"] == opened["id"]
    # The account was already suspended by staff: the chargeback changes nothing there, but the user is reported.
    (still,) = await purchase.wait_for_account(trader, status="suspended")
    assert still["id"] == account["id"]
