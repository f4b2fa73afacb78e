"""Issue 6's trading data: fills with exact P&L and fees, positions, account snapshots, and reconciliation reads
that return every trade exactly once, in order, however they are paged."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.ypf_simulator.conftest import Simulator


def test_a_round_trip_realises_exact_pnl_net_of_fees(sim: Simulator) -> None:
    account = sim.new_account()

    opened = sim.fill(account["id"], "ES", "buy", 2, "5800.00")["trade"]
    closed = sim.fill(account["id"], "ES", "sell", 2, "5801.25")

    assert opened["profitAndLoss"] is None  # an opening fill realises nothing, as on ProjectX
    assert opened["fees"] == "5.00" and opened["side"] == "buy" and opened["size"] == 2
    assert closed["trade"]["profitAndLoss"] == "125.00"  # 5 ticks x $12.50 x 2 contracts
    assert closed["position"] is None
    snapshot = sim.api.get(f"/client/v1/accounts/{account['id']}/snapshot").json()
    assert snapshot["balance"] == "50115.00"  # + 125 - 2 x 5.00 fees
    assert snapshot["realizedPnl"] == "125.00" and snapshot["fees"] == "10.00"
    assert snapshot["equity"] == snapshot["balance"] and snapshot["sequence"] == 2


def test_treasury_pnl_stays_exact_to_the_fraction_of_a_cent(sim: Simulator) -> None:
    account = sim.new_account()

    sim.fill(account["id"], "ZN", "buy", 1, "110-16")  # points and 32nds: 110.5
    trade = sim.fill(account["id"], "ZN", "sell", 1, "110.515625")["trade"]

    assert trade["price"] == "110.515625"
    assert trade["profitAndLoss"] == "15.625"  # one ZN tick, not rounded
    assert sim.api.get(f"/client/v1/accounts/{account['id']}/snapshot").json()["balance"] == "50012.125"


def test_positions_follow_fills_through_zero_and_marks_move_equity(sim: Simulator) -> None:
    account = sim.new_account()
    sim.fill(account["id"], "NQ", "buy", 1, "20500.00")
    sim.fill(account["id"], "NQ", "buy", 2, "20501.00")
    flipped = sim.fill(account["id"], "NQ", "sell", 5, "20502.00")

    # FIFO: 1 @ 20500 (+2 pts) and 2 @ 20501 (+1 pt each) close, 2 short remain at 20502
    assert flipped["trade"]["profitAndLoss"] == "80.00"
    assert flipped["position"]["type"] == "short" and flipped["position"]["size"] == 2
    assert flipped["position"]["averagePrice"] == "20502.00"

    sim.quote("NQ", "20490.00")
    positions = sim.api.get(f"/client/v1/accounts/{account['id']}/positions").json()["positions"]
    snapshot = sim.api.get(f"/client/v1/accounts/{account['id']}/snapshot").json()

    assert [(p["symbol"], p["openPnl"]) for p in positions] == [("NQ", "480.00")]  # 12 pts x $20 x 2 short
    assert snapshot["openPnl"] == "480.00"
    assert Decimal(snapshot["equity"]) == Decimal(snapshot["balance"]) + Decimal("480")


def test_a_fill_without_a_price_trades_at_the_current_quote(sim: Simulator) -> None:
    account = sim.new_account()
    sim.quote("CL", "71.37")

    trade = sim.fill(account["id"], "CL", "sell", 1)["trade"]

    assert trade["price"] == "71.37" and trade["contractId"].startswith("CON.F.US.CL.")
    assert datetime.fromisoformat(trade["creationTimestamp"]).utcoffset().total_seconds() == 0


def test_bad_fills_are_refused_and_record_nothing(sim: Simulator) -> None:
    account = sim.new_account()
    bad = [
        {"symbol": "ES", "side": "buy", "size": 1, "price": "5800.10"},  # off the 0.25 grid
        {"symbol": "XX", "side": "buy", "size": 1},
        {"symbol": "ES", "side": "hold", "size": 1},
        {"symbol": "ES", "side": "buy", "size": 0},
        {"symbol": "6E", "side": "buy", "size": 1, "price": "1.08003"},  # 6E ticks are 0.00005
    ]

    statuses = [sim.control.post("/_sim/fills", json={"accountId": account["id"], **b}).status_code for b in bad]

    assert statuses == [400] * len(bad)
    assert sim.api.get(f"/client/v1/accounts/{account['id']}/trades").json()["trades"] == []


def test_reconciliation_pages_return_every_trade_once_in_sequence_order(sim: Simulator) -> None:
    first, second = sim.new_account(), sim.new_account()
    for index in range(7):
        sim.fill(first["id"], "MES", "buy" if index % 2 == 0 else "sell", 1)
        sim.fill(second["id"], "MGC", "buy", 1)

    seen: list[dict] = []
    after = 0
    while True:
        page = sim.api.get(
            f"/client/v1/accounts/{first['id']}/trades", params={"after_sequence": after, "limit": 3}
        ).json()
        seen += page["trades"]
        if not page["hasMore"]:
            break
        after = page["trades"][-1]["sequence"]

    assert [t["sequence"] for t in seen] == list(range(1, 8))
    assert page["lastSequence"] == 7
    assert {t["accountId"] for t in seen} == {first["id"]}

    everything: list[dict] = []
    cursor = 0
    while True:
        page = sim.api.get("/client/v1/trades", params={"after_cursor": cursor, "limit": 4}).json()
        everything += page["trades"]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert len(everything) == 14 and len({t["id"] for t in everything}) == 14
    assert [t["cursor"] for t in everything] == sorted(t["cursor"] for t in everything)
    per_account = [t["sequence"] for t in everything if t["accountId"] == second["id"]]
    assert per_account == list(range(1, 8))


def test_the_event_log_replays_what_webhooks_carried(sim: Simulator) -> None:
    account = sim.new_account()
    sim.fill(account["id"], "ES", "buy", 1)

    page = sim.api.get("/client/v1/events", params={"after_cursor": 0}).json()
    trades_only = sim.api.get("/client/v1/events", params={"types": "trade"}).json()

    assert [e["type"] for e in page["events"]] == ["trade", "position", "account"]
    assert [e["cursor"] for e in page["events"]] == [1, 2, 3]
    assert [e["type"] for e in trades_only["events"]] == ["trade"]


def test_bad_paging_parameters_are_400(sim: Simulator) -> None:
    account = sim.new_account()
    path = f"/client/v1/accounts/{account['id']}/trades"

    assert sim.api.get(path, params={"limit": 0}).status_code == 400
    assert sim.api.get(path, params={"after_sequence": "x"}).status_code == 400
    assert sim.api.get(path, params={"limit": 5000}).status_code == 400


def test_exchange_time_comes_from_the_fill_or_the_offset_clock(sim: Simulator) -> None:
    account = sim.new_account()
    given = sim.control.post(
        "/_sim/fills",
        json={
            "accountId": account["id"],
            "symbol": "ES",
            "side": "buy",
            "size": 1,
            "occurredAt": "2026-03-02T15:09:00-06:00",
        },
    ).json()["trade"]
    naive = sim.control.post(
        "/_sim/fills",
        json={
            "accountId": account["id"],
            "symbol": "ES",
            "side": "buy",
            "size": 1,
            "occurredAt": "2026-03-02T15:09:00",
        },
    )
    sim.configure(clock_offset_seconds=86_400)
    shifted = sim.fill(account["id"], "ES", "sell", 1)["trade"]

    assert given["creationTimestamp"] == "2026-03-02T21:09:00.000000Z"
    assert naive.status_code == 400 and "offset" in naive.json()["error"]
    ahead = datetime.fromisoformat(shifted["creationTimestamp"]) - datetime.now(UTC)
    assert 86_000 < ahead.total_seconds() < 86_800
