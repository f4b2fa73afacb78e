"""The price stream: a random walk that stays on each instrument's tick grid, batched into one webhook per tick."""

from __future__ import annotations

from decimal import Decimal

from libs.domain.instruments import INSTRUMENTS
from tests.integration.ypf_simulator.conftest import Receiver, Simulator


def test_the_random_walk_stays_on_tick_and_batches_each_tick(sim: Simulator, receiver: Receiver) -> None:
    symbols = ["ES", "ZN", "ZB", "6E", "CL", "GC", "MNQ"]
    reply = sim.control.post("/_sim/walk", json={"running": True, "tickRate": 50, "symbols": symbols, "maxTicks": 3})
    assert reply.status_code == 200

    batches = receiver.wait_for(lambda events: len(events) >= 20)
    sim.control.post("/_sim/walk", json={"running": False})

    prices: dict[str, set[Decimal]] = {s: set() for s in symbols}
    for batch in batches:
        assert batch["type"] == "quote" and batch["accountId"] is None
        assert [q["symbol"] for q in batch["data"]["quotes"]] == symbols  # one webhook carries the whole tick
        for quote in batch["data"]["quotes"]:
            spec = INSTRUMENTS[quote["symbol"]]
            for field in ("lastPrice", "bestBid", "bestAsk"):
                assert Decimal(quote[field]) % spec.tick_size == 0, quote
            prices[quote["symbol"]].add(Decimal(quote["lastPrice"]))
    assert all(len(seen) > 1 for seen in prices.values())  # it does walk
    sequences = [b["sequence"] for b in batches]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)


def test_latest_quotes_match_what_was_set(sim: Simulator, receiver: Receiver) -> None:
    sim.quote("ZN", "110-165")  # 110 16.5/32

    latest = sim.api.get("/client/v1/quotes/latest", params={"symbols": "ZN,ES"}).json()["quotes"]
    pushed = receiver.wait_for(lambda events: len(events) == 1)[0]

    assert latest[0]["symbol"] == "ZN" and latest[0]["lastPrice"] == "110.515625"
    assert pushed["data"]["quotes"] == [latest[0]]
    assert sim.api.get("/client/v1/quotes/latest", params={"symbols": "XX"}).status_code == 400
    assert sim.control.post("/_sim/quotes", json={"symbol": "ES", "price": "5800.10"}).status_code == 400
    assert sim.control.post("/_sim/walk", json={"tickRate": 0}).status_code == 400
