"""Bad input changes nothing, duplicates change nothing, unknown accounts are quarantined, events apply in exchange
time order per account even when they arrive late, and a quote moves exactly the accounts holding its symbol."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import grpc
import pytest

from tests.integration.rules.conftest import Rules, money, sign


async def count_events(rules: Rules, *event_ids: str) -> int:
    rows = await rules.query(
        "SELECT count(*) AS n FROM rules.trade_events WHERE provider_event_id = ANY(:ids)", ids=list(event_ids)
    )
    return rows[0]["n"]


async def test_a_duplicate_event_changes_nothing(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    fill = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50")
    assert await rules.ingest(fill) == ["INGEST_OUTCOME_APPLIED"]
    before = await rules.risk(account_id, user_id)

    assert await rules.ingest(fill, fill) == ["INGEST_OUTCOME_DUPLICATE", "INGEST_OUTCOME_DUPLICATE"]

    after = await rules.risk(account_id, user_id)
    assert money(after.balance) == money("49997.50") and after == before
    assert await count_events(rules, fill["id"]) == 1


async def test_an_event_for_an_unknown_account_is_quarantined_and_reported(rules: Rules):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    stranger = str(uuid.uuid4())
    fill = rules.platform.trade(stranger, rules.start, "NQ", "sell", 2, "20500.00")
    assert await rules.ingest(fill) == ["INGEST_OUTCOME_QUARANTINED"]
    assert await rules.ingest(fill) == ["INGEST_OUTCOME_DUPLICATE"]

    listed = await rules.stub().ListQuarantinedEvents(
        pb.ListQuarantinedEventsRequest(page_size=1000), metadata=rules.auth(role="admin")
    )
    mine = [e for e in listed.events if e.provider_event_id == fill["id"]]
    assert len(mine) == 1
    assert (mine[0].platform_account_id, mine[0].event_type) == (stranger, "trade")
    assert len(mine[0].payload_sha256) == 64
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rules.stub().ListQuarantinedEvents(pb.ListQuarantinedEventsRequest(), metadata=rules.auth())
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["data"].update(price=5000.25), "price"),
        (lambda e: e["data"].update(symbol="XYZ"), "XYZ"),
        (lambda e: e["data"].update(size=0), "size"),
        (lambda e: e["data"].update(creationTimestamp="2026-02-03T15:00:00"), "offset"),
        (lambda e: e.pop("id"), "id"),
        (lambda e: e.update(type="bogus"), "type"),
    ],
)
async def test_a_malformed_event_refuses_the_batch_and_stores_nothing(rules: Rules, mutate, message):
    _account_id, platform_account, _user = await rules.activate()
    good = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    bad = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    mutate(bad)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rules.ingest(good, bad)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "event 1" in refused.value.details() and message in refused.value.details()
    assert await count_events(rules, good["id"]) == 0


async def test_a_body_that_is_not_json_is_invalid_argument(rules: Rules):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rules.ingest(b"{not json")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_wrong_signature_is_refused_and_stores_nothing(rules: Rules):
    _account_id, platform_account, _user = await rules.activate()
    fill = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    body = json.dumps(fill).encode()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rules.ingest(body, signature=sign(body, secret="someone-else"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await count_events(rules, fill["id"]) == 0


async def test_a_late_quote_re_evaluates_from_before_it_and_finds_the_breach_it_caused(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    buy = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00")
    crash = rules.platform.quote(rules.start + timedelta(minutes=1), ES="4959.75")
    close = rules.platform.trade(platform_account, rules.start + timedelta(minutes=2), "ES", "sell", 1, "5000.00")
    # The close arrives before the quote that happened earlier: applied as it comes, the account looks flat and fine.
    await rules.ingest(buy)
    await rules.ingest(close)
    assert (await rules.risk(account_id, user_id)).status == "active"

    assert await rules.ingest(crash) == ["INGEST_OUTCOME_APPLIED"]

    state = await rules.risk(account_id, user_id)
    # In exchange-time order the quote took equity below the floor first: failed, liquidated at 4959.75, and the
    # later sell (a fill on a failed account still moves the position) left a short at 5000.
    assert (state.status, state.failed_rule, money(state.balance)) == ("failed", "max_loss", money("47987.50"))
    violations = await rules.violations(account_id, user_id)
    assert [(v.rule, v.trigger_event_id) for v in violations] == [("max_loss", crash["id"])]
    outbox = await rules.query("SELECT event_type FROM rules.outbox WHERE aggregate_id = :a", a=account_id)
    assert [r["event_type"] for r in outbox] == ["AccountBreached"]


async def test_a_late_fill_gives_the_state_an_in_order_replay_gives(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    t = rules.start
    events = [
        rules.platform.trade(platform_account, t, "ES", "buy", 2, "5000.00", fees="5.00"),
        rules.platform.quote(t + timedelta(seconds=10), ES="5003.00"),
        rules.platform.trade(platform_account, t + timedelta(seconds=20), "ES", "sell", 1, "5004.00", fees="2.50"),
        rules.platform.quote(t + timedelta(seconds=30), ES="4998.25"),
        rules.platform.trade(platform_account, t + timedelta(seconds=40), "NQ", "sell", 1, "20500.00", fees="2.50"),
        rules.platform.quote(t + timedelta(seconds=50), ES="5001.50", NQ="20490.00"),
    ]
    for index in (0, 4, 5, 1, 3, 2):  # fills and quotes arriving out of order
        await rules.ingest(events[index])
    shuffled = await rules.risk(account_id, user_id)

    in_order_id, in_order_platform, in_order_user = await rules.activate()
    for event in events:
        copy = json.loads(json.dumps(event))
        copy["id"] = f"{copy['id']}-again"
        if copy["type"] == "trade":
            copy["accountId"] = copy["data"]["accountId"] = in_order_platform
        await rules.ingest(copy)
    expected = await rules.risk(in_order_id, in_order_user)

    figures = ("status", "balance", "equity", "floor", "day_pnl")
    assert [getattr(shuffled, f) for f in figures] == [getattr(expected, f) for f in figures]
    # 2 x ES bought at 5000, one sold at 5004 (+200), fees 10; ES 1 long marked 5001.50 (+75), NQ short at 20490 (+200)
    assert money(shuffled.balance) == money("50190.00") and money(shuffled.equity) == money("50465.00")


async def test_a_quote_moves_every_account_holding_its_symbol_and_no_other(rules: Rules):
    holders = [await rules.activate() for _ in range(2)]
    other = await rules.activate()
    for _account, platform_account, _user in holders:
        await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.trade(other[1], rules.start, "NQ", "buy", 1, "20000.00"))

    await rules.ingest(rules.platform.quote(rules.start + timedelta(seconds=5), ES="5010.00"))

    for account_id, _platform, user_id in holders:
        assert money((await rules.risk(account_id, user_id)).equity) == money("50500.00")
    untouched = await rules.risk(other[0], other[2])
    assert money(untouched.equity) == money("50000.00")
    assert untouched.as_of.ToDatetime().replace(tzinfo=rules.start.tzinfo) == rules.start


async def test_position_and_account_events_are_recorded_not_applied(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    snapshot = rules.platform.account_snapshot(platform_account, rules.start)
    assert await rules.ingest(snapshot) == ["INGEST_OUTCOME_RECORDED"]
    assert money((await rules.risk(account_id, user_id)).balance) == money("50000.00")


async def test_a_suspended_account_stores_its_events_without_judging_them_until_reinstated(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    status = {"account_id": account_id, "user_id": user_id, "previous": "phase_1", "reason": "review", "attempt": 1}
    await rules.deliver("AccountStatusChanged", {**status, "status": "suspended"}, aggregate_id=account_id, version=2)
    fill = rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50")
    assert await rules.ingest(fill) == ["INGEST_OUTCOME_RECORDED"]
    assert (await rules.risk(account_id, user_id)).status == "stopped"

    await rules.deliver(
        "AccountStatusChanged",
        {**status, "previous": "suspended", "status": "phase_1"},
        aggregate_id=account_id,
        version=3,
    )
    later = rules.platform.trade(platform_account, rules.start + timedelta(minutes=1), "ES", "buy", 1, "5000.00")
    assert await rules.ingest(later) == ["INGEST_OUTCOME_APPLIED"]
    assert (await rules.risk(account_id, user_id)).status == "active"


async def test_a_trader_cannot_read_another_traders_account(rules: Rules):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    account_id, _platform, _owner = await rules.activate()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rules.stub().GetRiskState(pb.GetRiskStateRequest(account_id=account_id), metadata=rules.auth())
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    staff = await rules.stub().GetRiskState(
        pb.GetRiskStateRequest(account_id=account_id), metadata=rules.auth(role="support")
    )
    assert staff.state.account_id == account_id


async def test_a_new_attempt_starts_a_fresh_risk_state(rules: Rules):
    account_id, platform_account, user_id = await rules.activate()
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50"))
    await rules.deliver(
        "AccountActivated",
        {
            "account_id": account_id,
            "user_id": user_id,
            "program_id": "eval-50k",
            "phase": "phase_1",
            "attempt": 2,
            "rule_set": {
                "start_balance": "50000.00",
                "drawdown": {"mode": "static", "max_loss": "2500.00", "lock": {"kind": "none"}},
            },
            "platform_account_id": platform_account,
        },
        aggregate_id=account_id,
        version=5,
    )
    state = await rules.risk(account_id, user_id)
    assert (money(state.balance), money(state.floor)) == (money("50000.00"), money("47500.00"))


async def test_events_that_overtake_the_activation_are_applied_when_it_comes(rules: Rules):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    platform_account = str(uuid.uuid4())
    early = [
        rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50"),
        rules.platform.trade(platform_account, rules.start + timedelta(seconds=5), "ES", "sell", 1, "5010.00"),
    ]
    assert await rules.ingest(*early) == ["INGEST_OUTCOME_QUARANTINED"] * 2

    account_id, _platform, user_id = await rules.activate(platform_account=platform_account)

    state = await rules.risk(account_id, user_id)
    assert money(state.balance) == money("50497.50")  # +10 points x 50, less the 2.50 fee
    assert await count_events(rules, *(e["id"] for e in early)) == 2
    listed = await rules.stub().ListQuarantinedEvents(
        pb.ListQuarantinedEventsRequest(page_size=1000), metadata=rules.auth(role="admin")
    )
    assert not {e["id"] for e in early} & {q.provider_event_id for q in listed.events}
    # Delivered again now: duplicates.
    assert await rules.ingest(early[0]) == ["INGEST_OUTCOME_DUPLICATE"]
