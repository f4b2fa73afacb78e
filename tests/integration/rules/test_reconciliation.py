"""The reconciliation poller finds what no webhook brought: the simulator here sends none, so fills and quotes
reach the rules service only through the event log and the latest quotes, and a breach is still found and
enforced. Reading everything again changes nothing."""

from __future__ import annotations

import asyncio

from services.rules.adapters.sql.unit_of_work import SqlMonitoringUnitOfWork
from services.rules.adapters.yourpropfirm.reconciliation import ReconciliationPoller
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from tests.integration.rules.conftest import YPF_KEY, Rules, money


async def test_the_poller_reads_missed_fills_and_prices_and_the_breach_is_enforced(rules: Rules):
    from libs.platform.db import create_engine, session_factory

    account_id, platform_account, user_id = await rules.activate()
    await rules.sim.post("/_sim/quotes", json={"symbol": "ES", "price": "5000.00"})
    fill = await rules.sim.post(
        "/_sim/fills", json={"accountId": platform_account, "symbol": "ES", "side": "buy", "size": 1}
    )
    assert fill.status_code == 201, fill.text

    engine = create_engine(rules.database_url, "rules", pool_size=2)
    sessions = session_factory(engine)
    poller = ReconciliationPoller(
        sessions,
        str(rules.sim.base_url),
        YPF_KEY,
        IngestTradeEventsHandler(lambda: SqlMonitoringUnitOfWork(sessions), on_enforcement=rules.worker.wake),
    )
    try:
        assert await poller.run_once() >= 3  # trade, position, account; then the latest ES quote
        state = await rules.risk(account_id, user_id)
        assert (state.status, money(state.balance)) == ("active", money("49997.50"))

        await rules.sim.post("/_sim/quotes", json={"symbol": "ES", "price": "4959.75"})
        await poller.run_once()
        state = await rules.risk(account_id, user_id)
        assert (state.status, state.failed_rule) == ("failed", "max_loss")
        commands = await rules.commands(platform_account, count=2)
        assert [c["command"] for c in commands] == ["flatten", "disable"]

        # The flatten's own fill comes back through the log as an echo; reading again from the start changes nothing.
        await asyncio.sleep(0.2)
        await poller.run_once()
        settled = await rules.risk(account_id, user_id)
        await rules.query("DELETE FROM rules.platform_cursors WHERE name LIKE :n", n=f"%{rules.sim.base_url}%")
        await poller.run_once()
        assert await rules.risk(account_id, user_id) == settled
        stored = await rules.query(
            "SELECT event_type, count(*) AS n FROM rules.trade_events WHERE platform_account_id = :p "
            "GROUP BY event_type ORDER BY event_type",
            p=platform_account,
        )
        assert {row["event_type"]: row["n"] for row in stored} == {"account": 3, "position": 2, "trade": 2}
    finally:
        await poller.close()
        await engine.dispose()
