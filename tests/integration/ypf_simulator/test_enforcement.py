"""The commands our rules service sends on a breach: flatten and disable, idempotent by Idempotency-Key, and every
one of them recorded so an e2e test can see what the platform received."""

from __future__ import annotations

from tests.integration.ypf_simulator.conftest import Receiver, Simulator


def test_flatten_closes_every_position_at_the_quote_and_sends_the_fills(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    sim.fill(account["id"], "ES", "buy", 2, "5800.00")
    sim.fill(account["id"], "CL", "sell", 1, "70.00")
    sim.quote("ES", "5795.00")
    sim.quote("CL", "70.50")

    reply = sim.api.post(f"/client/v1/accounts/{account['id']}/flatten", headers={"Idempotency-Key": "breach-1"})

    assert reply.status_code == 200
    closed = {t["symbol"]: t for t in reply.json()["closed"]}
    assert closed["ES"]["side"] == "sell" and closed["ES"]["size"] == 2 and closed["ES"]["price"] == "5795.00"
    assert closed["ES"]["profitAndLoss"] == "-500.00"
    assert closed["CL"]["side"] == "buy" and closed["CL"]["profitAndLoss"] == "-500.00"
    assert sim.api.get(f"/client/v1/accounts/{account['id']}/positions").json()["positions"] == []
    trade_ids = {t["id"] for t in closed.values()}
    receiver.wait_for(lambda events: trade_ids <= {e["data"].get("id") for e in events if e["type"] == "trade"})


def test_flatten_retried_with_the_same_key_closes_nothing_twice(sim: Simulator) -> None:
    account = sim.new_account()
    sim.fill(account["id"], "ES", "buy", 1)
    path = f"/client/v1/accounts/{account['id']}/flatten"

    first = sim.api.post(path, json={"reason": "max loss"}, headers={"Idempotency-Key": "breach-2"})
    sim.fill(account["id"], "ES", "buy", 1)  # a later position must not be closed by the retry
    retry = sim.api.post(path, json={"reason": "max loss"}, headers={"Idempotency-Key": "breach-2"})

    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    positions = sim.api.get(f"/client/v1/accounts/{account['id']}/positions").json()["positions"]
    assert [(p["symbol"], p["size"]) for p in positions] == [("ES", 1)]
    commands = sim.control.get("/_sim/commands", params={"accountId": account["id"]}).json()["commands"]
    assert [(c["command"], c["replayed"], c["idempotencyKey"]) for c in commands] == [
        ("flatten", False, "breach-2"),
        ("flatten", True, "breach-2"),
    ]
    assert commands[0]["body"] == {"reason": "max loss"}


def test_disable_stops_trading_once_and_enable_restores_it(sim: Simulator, receiver: Receiver) -> None:
    account = sim.new_account()
    path = f"/client/v1/accounts/{account['id']}"

    disabled = sim.api.post(f"{path}/disable", json={"reason": "max loss breached"}, headers={"Idempotency-Key": "d1"})
    again = sim.api.post(f"{path}/disable", headers={"Idempotency-Key": "d2"})  # another key: still one change
    refused = sim.control.post(
        "/_sim/fills", json={"accountId": account["id"], "symbol": "ES", "side": "buy", "size": 1}
    )

    assert disabled.status_code == again.status_code == 200
    assert disabled.json()["canTrade"] is False and disabled.json()["statusReason"] == "max loss breached"
    assert refused.status_code == 409 and "cannot trade" in refused.json()["error"]
    events = receiver.wait_for(lambda events: any(e["type"] == "account" for e in events))
    sim.wait_idle()
    account_events = [e for e in receiver.events() if e["type"] == "account"]
    assert len(account_events) == 1 and account_events[0]["data"]["canTrade"] is False
    assert events  # the disable was announced

    enabled = sim.api.post(f"{path}/enable", headers={"Idempotency-Key": "e1"})
    assert enabled.json()["canTrade"] is True and enabled.json()["status"] == "active"
    assert sim.fill(account["id"], "ES", "buy", 1)["trade"]["sequence"] == 1


def test_a_disabled_account_can_still_be_flattened(sim: Simulator) -> None:
    account = sim.new_account()
    sim.fill(account["id"], "NQ", "buy", 1)
    sim.api.post(f"/client/v1/accounts/{account['id']}/disable", headers={"Idempotency-Key": "d"})

    reply = sim.api.post(f"/client/v1/accounts/{account['id']}/flatten", headers={"Idempotency-Key": "f"})

    assert [t["symbol"] for t in reply.json()["closed"]] == ["NQ"]
    assert reply.json()["account"]["canTrade"] is False


def test_commands_refused_by_an_outage_are_recorded_as_received(sim: Simulator) -> None:
    account = sim.new_account()
    sim.configure(fail_next_calls=1)

    refused = sim.api.post(f"/client/v1/accounts/{account['id']}/flatten", headers={"Idempotency-Key": "f"})
    retried = sim.api.post(f"/client/v1/accounts/{account['id']}/flatten", headers={"Idempotency-Key": "f"})

    assert (refused.status_code, retried.status_code) == (503, 200)
    commands = sim.control.get("/_sim/commands", params={"accountId": account["id"]}).json()["commands"]
    assert [(c["status"], c["injectedFault"], c["replayed"]) for c in commands] == [
        (503, True, False),
        (200, False, False),
    ]


def test_a_script_drives_an_account_into_a_loss(sim: Simulator) -> None:
    account = sim.new_account("eval-5k")
    script = {
        "steps": [
            {"quote": {"symbol": "ES", "price": "5800.00"}},
            {"fill": {"accountId": account["id"], "symbol": "ES", "side": "buy", "size": 1}},
            {"quotes": [{"symbol": "ES", "price": "5790.00"}]},
            {"sleep": 0.01},
            {"quote": {"symbol": "ES", "price": "5780.00"}},
        ]
    }

    reply = sim.control.post("/_sim/scripts", json=script)

    assert reply.status_code == 200 and reply.json()["status"] == "done"
    snapshot = sim.api.get(f"/client/v1/accounts/{account['id']}/snapshot").json()
    assert snapshot["openPnl"] == "-1000.00" and snapshot["equity"] == "3997.50"
    bad = sim.control.post("/_sim/scripts", json={"steps": [{"teleport": {}}]})
    assert bad.status_code == 400 and "unknown action" in bad.json()["error"]["error"]


def test_a_reset_closes_positions_and_starts_a_new_attempt_with_sequences_carrying_on(sim: Simulator) -> None:
    account = sim.new_account("eval-25k")
    sim.fill(account["id"], "GC", "buy", 1, "2650.0")
    sim.quote("GC", "2640.0")
    sim.api.post(f"/client/v1/accounts/{account['id']}/disable", headers={"Idempotency-Key": "fail"})
    path = f"/client/v1/accounts/{account['id']}/reset"

    reset = sim.api.post(path, headers={"Idempotency-Key": "reset-1"})
    retry = sim.api.post(path, headers={"Idempotency-Key": "reset-1"})

    assert reset.status_code == 200 and retry.json() == reset.json()
    assert [(t["symbol"], t["profitAndLoss"]) for t in reset.json()["closed"]] == [("GC", "-1000.00")]
    snapshot = reset.json()["account"]
    assert (snapshot["balance"], snapshot["fees"], snapshot["attempt"]) == ("25000.00", "0.00", 2)
    assert snapshot["canTrade"] is True and snapshot["sequence"] == 2
    assert sim.fill(account["id"], "GC", "buy", 1)["trade"]["sequence"] == 3


def test_a_reset_with_a_new_starting_balance_scales_the_account_once_and_a_bad_one_changes_nothing(
    sim: Simulator,
) -> None:
    account = sim.new_account("eval-50k")
    sim.fill(account["id"], "ES", "buy", 1, "5800.00")
    path = f"/client/v1/accounts/{account['id']}/reset"

    refused = [
        sim.api.post(path, json={"reason": "scaling", "startingBalance": bad}, headers={"Idempotency-Key": key})
        for key, bad in (("bad-1", "-5"), ("bad-2", "0"), ("bad-3", "lots"), ("bad-4", 75000.5), ("bad-5", "NaN"))
    ]
    unchanged = sim.api.get(f"/client/v1/accounts/{account['id']}").json()
    still_open = sim.api.get(f"/client/v1/accounts/{account['id']}/positions").json()["positions"]
    body = {"reason": "scaling", "startingBalance": "75000"}
    scaled = sim.api.post(path, json=body, headers={"Idempotency-Key": "scale-1"})
    replayed = sim.api.post(path, json=body, headers={"Idempotency-Key": "scale-1"})
    plain = sim.api.post(path, json={"reason": "paid reset"}, headers={"Idempotency-Key": "reset-2"})

    assert [r.status_code for r in refused] == [400] * 5
    assert "startingBalance" in refused[0].text and "startingBalance must be a decimal string" in refused[3].text
    assert unchanged["startingBalance"] == "50000.00" and unchanged.get("attempt", 1) == 1
    assert [p["symbol"] for p in still_open] == ["ES"]  # a refused reset closed nothing
    assert scaled.status_code == 200 and replayed.json() == scaled.json()
    assert [t["symbol"] for t in scaled.json()["closed"]] == ["ES"]
    snapshot = scaled.json()["account"]
    assert (snapshot["startingBalance"], snapshot["balance"], snapshot["attempt"]) == ("75000.00", "75000.00", 2)
    # A later reset without a balance starts over at the new size: the scaled size is the account's own now.
    again = plain.json()["account"]
    assert (again["startingBalance"], again["balance"], again["attempt"]) == ("75000.00", "75000.00", 3)


def test_a_batch_of_fills_is_all_or_nothing(sim: Simulator) -> None:
    first, second = sim.new_account(), sim.new_account()
    good = [
        {"accountId": first["id"], "symbol": "ES", "side": "buy", "size": 1},
        {"accountId": second["id"], "symbol": "NQ", "side": "sell", "size": 2},
    ]

    refused = sim.control.post("/_sim/fills", json={"fills": [*good, {"accountId": first["id"], "symbol": "XX"}]})
    accepted = sim.control.post("/_sim/fills", json={"fills": good})

    assert refused.status_code == 400 and accepted.status_code == 201
    assert [t["sequence"] for t in accepted.json()["trades"]] == [1, 1]  # the refused batch left no trace
