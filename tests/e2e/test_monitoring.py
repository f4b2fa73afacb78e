"""Done when (issue 6), on the running stack (four services, the gateway, the Stripe stand-in and the YourPropFirm
simulator as processes; real PostgreSQL and Redis):

A trader buys a $50K challenge through the gateway; challenges activates it and the rules service starts judging
it. The simulator fills and prices it; its signed webhooks reach the rules service through the gateway, and the
reconciliation poller reads the same events from the platform's log (deduplicated by event id). The rules service is
killed mid-stream and restarted; a fill made while it was down (its webhook refused with 503 and retried, and in the
log) is not lost. A price drop breaches the drawdown floor and
the test sees: the account failed in challenges, the flatten call received by the simulator, the violation with
its evidence at the gateway, the WebSocket message; and the state the service recovered to equals a replay of every
stored event through the engine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import psycopg
from websockets.sync.client import connect

from devstack.stack import YPF_CLIENT_KEY, Stack
from tests.e2e.test_purchase import signed_in_trader, wait_for


def buy_active_account(stack: Stack, http: httpx.Client, outside: httpx.Client) -> tuple[dict, dict[str, str]]:
    _email, trader = signed_in_trader(stack, http)
    program = http.get("/v1/programs/eval-50k").json()
    reply = http.post(
        "/v1/orders",
        json={
            "program_id": "eval-50k",
            "program_version": program["version"],
            "success_url": "https://app.dynasty.test/checkout/done",
            "cancel_url": "https://app.dynasty.test/checkout/cancelled",
        },
        headers={**trader, "Idempotency-Key": f"e2e-{uuid.uuid4().hex}"},
    )
    assert reply.status_code == 201, reply.text
    session_id = reply.json()["checkout_url"].rsplit("/", 1)[-1]
    paid = outside.post(f"{stack.stripe_url}/_standin/checkout/sessions/{session_id}/pay", json={})
    assert paid.status_code == 200, paid.text

    def active():
        accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
        return accounts[0] if accounts and accounts[0]["status"] == "phase_1" else None

    return wait_for("the account to become active", active, timeout=60), trader


def rules_rows(stack: Stack, sql: str, *params) -> list[tuple]:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def restart_rules(stack: Stack, while_down) -> None:
    """SIGKILL the rules service (no graceful shutdown), do `while_down`, start it again."""
    process = stack._processes["rules"]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    while_down()
    stack._spawn("rules", [sys.executable, "-m", "services.rules.main"])


class Listener:
    """A WebSocket client on its own thread, keeping every message it receives."""

    def __init__(self, url: str, token: str) -> None:
        self.messages: list[dict] = []
        self.arrived: list[float] = []  # time.monotonic() of each message
        self._socket = connect(url, subprotocols=["bearer", token], open_timeout=10)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._socket:
                self.arrived.append(time.monotonic())
                self.messages.append(json.loads(raw))
        except Exception:  # closed
            return

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


def replayed_snapshot(stack: Stack, account_id: str) -> dict:
    """The account's risk state rebuilt from nothing but its stored events, through the engine's shared path."""
    from libs.domain.rule_set import parse_rule_set
    from services.rules.adapters.yourpropfirm.envelopes import stored_fill_or_marks
    from services.rules.application.risk_runner import StoredEvent, replay
    from services.rules.domain.account_risk import AccountRisk

    ((rule_set,),) = rules_rows(
        stack, "SELECT rule_set FROM rules.monitored_accounts WHERE account_id = %s", account_id
    )
    trades = rules_rows(
        stack,
        "SELECT id, provider_event_id, payload, exchange_at FROM rules.trade_events "
        "WHERE account_id = %s AND event_type = 'trade' AND outcome = 'applied'",
        account_id,
    )
    first = min(row[3] for row in trades)
    quotes = rules_rows(
        stack,
        "SELECT id, provider_event_id, payload FROM rules.trade_events "
        "WHERE event_type = 'quote' AND outcome = 'applied' AND exchange_at >= %s",  # not those coalesced away
        first,
    )
    events = []
    for row_id, provider_id, payload, *_ in [*trades, *quotes]:
        fill, marks = stored_fill_or_marks(payload)
        events.append(StoredEvent(row_id, provider_id, fill, marks))
    risk = AccountRisk(parse_rule_set(rule_set))
    replay(risk, events)
    return risk.to_snapshot()


def test_a_breach_is_enforced_end_to_end_and_a_killed_rules_service_loses_nothing(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http, httpx.Client(timeout=30) as outside:
        account, trader = buy_active_account(stack, http, outside)
        account_id = account["id"]

        def monitored():
            rows = rules_rows(
                stack, "SELECT platform_account_id FROM rules.monitored_accounts WHERE account_id = %s", account_id
            )
            return rows[0][0] if rows else None

        platform_account = wait_for("the rules service to monitor the account", monitored)
        sim = f"{stack.ypf_url}/_sim"
        # The platform's exchange clock at a fixed, ordinary moment ahead of the wall clock (Tuesday 5 March 2030,
        # 09:30 in Chicago), so the flat-by time, the day roll and the weekend never fall inside the test whenever it
        # runs, and the rules service's clock ticks (wall clock) never find the account's next boundary due.
        trading_moment = datetime(2030, 3, 5, 9, 30, tzinfo=ZoneInfo("America/Chicago"))
        offset = (trading_moment - datetime.now(UTC)).total_seconds()
        assert outside.post(f"{sim}/config", json={"clock_offset_seconds": offset}).status_code == 200
        listener = Listener(
            stack.gateway_url.replace("http://", "ws://") + "/v1/ws", trader["Authorization"].split()[1]
        )
        try:

            def fill(side: str, size: int) -> None:
                reply = outside.post(
                    f"{sim}/fills", json={"accountId": platform_account, "symbol": "ES", "side": side, "size": size}
                )
                assert reply.status_code == 201, reply.text

            def quote(price: str) -> None:
                assert outside.post(f"{sim}/quotes", json={"symbol": "ES", "price": price}).status_code == 200

            def risk() -> dict:
                reply = http.get(f"/v1/accounts/{account_id}/risk", headers=trader)
                return reply.json() if reply.status_code == 200 else {}

            quote("5000.00")
            fill("buy", 1)
            wait_for("the first fill at the gateway", lambda: risk().get("balance") == "49997.50")

            # Killed mid-stream: while it is down the trader buys another contract and the price moves.
            def while_down() -> None:
                fill("buy", 1)
                quote("4995.00")

            restart_rules(stack, while_down)
            # Two longs at 5000 (fees 2.50 a side each): balance 49995.00; marked at 4995: equity 49495.00.
            wait_for("the recovered service to catch up", lambda: risk().get("equity") == "49495.00", timeout=60)

            # The program's floor is 8% below the start (46000.00) and its daily loss limit (4%) is soft, so only a gap
            # past both on one price fails the account: two ES contracts 40.25 points down, equity 45970.00.
            sent = time.monotonic()
            sent_wall = datetime.now(UTC)
            quote("4959.75")
            wait_for("the breach", lambda: risk().get("status") == "failed", timeout=30)
            assert risk()["failed_rule"] == "max_loss"

            def failed_in_challenges():
                accounts = http.get("/v1/accounts", headers=trader).json()["accounts"]
                return accounts[0]["status"] == "failed"

            wait_for("challenges to fail the account", failed_in_challenges)

            def enforced():
                commands = outside.get(f"{sim}/commands", params={"accountId": platform_account}).json()
                commands = commands["commands"] if isinstance(commands, dict) else commands
                return commands if {c["command"] for c in commands} >= {"flatten", "disable"} else None

            commands = wait_for("flatten and disable at the platform", enforced)
            assert commands[0]["command"] == "flatten"
            assert commands[0]["idempotencyKey"] == f"breach:{account_id}:1:flatten"
            platform = outside.get(
                f"{stack.ypf_url}/client/v1/accounts/{platform_account}/positions",
                headers={"X-Client-Key": YPF_CLIENT_KEY},
            ).json()
            assert platform["positions"] == []

            violations = http.get(f"/v1/accounts/{account_id}/violations", headers=trader).json()["violations"]
            assert [(v["rule"], v["severity"]) for v in violations] == [("max_loss", "hard")]
            evidence = violations[0]["evidence"]
            assert Decimal(evidence["equity"]) == Decimal("45970.00")
            assert Decimal(evidence["floor"]) == Decimal("46000.00")
            assert evidence["trigger"]["kind"] == "mark" and evidence["trigger"]["price"] == "4959.75"

            def violation_message():
                return next((m for m in listener.messages if m.get("type") == "violation"), None)

            message = wait_for("the WebSocket's violation message", violation_message)
            assert message["account_id"] == account_id and message["rule"] == "max_loss"
            # The firm's requirement: detected and enforced within 5 s of the price that breached (we aim far lower;
            # the benchmark measures it, this shared machine's load makes a tighter bound flaky here).
            assert listener.arrived[listener.messages.index(message)] - sent < 5.0
            flattened_at = datetime.fromisoformat(commands[0]["receivedAt"].replace("Z", "+00:00"))
            platform_sent = sent_wall + timedelta(seconds=offset)  # the simulator stamps with its offset clock
            assert 0 <= (flattened_at - platform_sent).total_seconds() < 5.0
        finally:
            listener.close()

        # Nothing lost: the state the restarted service holds is what replaying every stored event gives.
        ((stored, saved, last),) = rules_rows(
            stack,
            "SELECT snapshot, saved_event_row, last_event_row FROM rules.risk_states WHERE account_id = %s",
            account_id,
        )
        assert saved == last  # the breach saved the state in full (quotes that decide nothing only move last_event)
        assert stored == replayed_snapshot(stack, account_id)
        assert stored["balance"] == "45965.00"  # liquidated at 4959.75: 2 x -2012.50 and four fees of 2.50
