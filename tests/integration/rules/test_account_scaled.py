"""AccountScaled from challenges through the inbox (ADR 0054): the funded account is judged from then on by the rule
set at the new size, with a fresh risk state; the same step again, a stale step and a stopped account do not reset
or resume anything."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.rules.conftest import Rules, money, rule_set


def scaled_payload(account_id: str, user_id: str, platform_account: str, *, attempt: int = 1) -> dict:
    return {
        "account_id": account_id,
        "user_id": user_id,
        "program_id": "eval-50k",
        "phase": "funded",
        "attempt": attempt,
        "step": 1,
        "payouts": 2,
        "previous_size": "50000.00",
        "account_size": "75000.00",
        "currency": "USD",
        "rule_set": {**rule_set(max_loss="3000.00"), "start_balance": "75000.00"},
        "platform_account_id": platform_account,
    }


async def test_a_scaled_account_is_judged_afresh_at_its_new_size_and_a_repeat_changes_nothing(rules: Rules):
    account_id, platform_account, user_id = await rules.activate(phase="funded")
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50"))
    assert money((await rules.risk(account_id, user_id)).balance) == money("49997.50")

    payload = scaled_payload(account_id, user_id, platform_account)
    await rules.deliver("AccountScaled", payload, aggregate_id=account_id, version=7)
    state = await rules.risk(account_id, user_id)
    assert (money(state.balance), money(state.floor)) == (money("75000.00"), money("72000.00"))

    later = rules.platform.trade(
        platform_account, rules.start + timedelta(minutes=1), "ES", "sell", 1, "5000.00", fees="2.50"
    )
    assert await rules.ingest(later) == ["INGEST_OUTCOME_APPLIED"]
    after_trade = money((await rules.risk(account_id, user_id)).balance)
    assert after_trade == money("74997.50")  # judged from the new start: only the fee moved it
    # The same step delivered again (a new event id) keeps the state it has: no second fresh start.
    await rules.deliver("AccountScaled", payload, aggregate_id=account_id, version=7)
    assert money((await rules.risk(account_id, user_id)).balance) == after_trade


async def test_a_stale_step_is_ignored_and_a_stopped_account_stays_stopped(rules: Rules):
    account_id, platform_account, user_id = await rules.activate(phase="funded", attempt=2)
    await rules.deliver(
        "AccountScaled", scaled_payload(account_id, user_id, platform_account, attempt=1), aggregate_id=account_id
    )
    assert money((await rules.risk(account_id, user_id)).balance) == money("50000.00")

    status = {"account_id": account_id, "user_id": user_id, "previous": "funded", "reason": "review", "attempt": 2}
    await rules.deliver("AccountStatusChanged", {**status, "status": "suspended"}, aggregate_id=account_id, version=2)
    await rules.deliver(
        "AccountScaled", scaled_payload(account_id, user_id, platform_account, attempt=2), aggregate_id=account_id
    )
    state = await rules.risk(account_id, user_id)
    assert state.status == "stopped" and money(state.balance) == money("75000.00")
