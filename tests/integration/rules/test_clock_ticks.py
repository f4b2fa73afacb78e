"""Clock ticks: an idle account's boundaries fire on time. A position still open at the flat-by time is closed by
the engine and on the platform; the EOD snapshot counts the trading day; the ticks are stored, so a replay of the
account ends where the live state is."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.rules.adapters.sql.unit_of_work import SqlMonitoringUnitOfWork
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from tests.integration.rules.conftest import Rules, money, rule_set

CHICAGO = ZoneInfo("America/Chicago")


async def test_an_idle_account_is_flattened_at_the_flat_by_time_and_its_day_counted(rules: Rules):
    from dynasty.rules.v1 import rules_service_pb2 as pb
    from libs.platform.db import create_engine, session_factory

    account_id, platform_account, user_id = await rules.activate(
        rules=rule_set(flat_by={"time": "15:10", "action": "auto_flatten"})
    )
    await rules.ingest(rules.platform.trade(platform_account, rules.start, "ES", "buy", 1, "5000.00", fees="2.50"))
    await rules.ingest(rules.platform.quote(rules.start.replace(second=30), ES="5002.00"))
    local = rules.start.astimezone(CHICAGO)
    engine = create_engine(rules.database_url, "rules", pool_size=2)
    sessions = session_factory(engine)
    ticks = IngestTradeEventsHandler(lambda: SqlMonitoringUnitOfWork(sessions), on_enforcement=rules.worker.wake)
    try:
        assert await ticks.tick(local.replace(hour=15, minute=9)) == 0  # nothing due yet: no tick stored
        after_flat_by = local.replace(hour=15, minute=11)
        assert await ticks.tick(after_flat_by) == 1
        state = await rules.risk(account_id, user_id)
        # Closed at the last price, 5002: +100, less the 2.50 paid on the fill (no fees configured for the close).
        assert (state.status, money(state.balance), money(state.equity)) == (
            "active",
            money("50097.50"),
            money("50097.50"),
        )
        commands = await rules.commands(platform_account, count=1)
        assert commands[0]["command"] == "flatten" and commands[0]["idempotencyKey"].startswith("flatby:")
        assert await ticks.tick(after_flat_by) == 0  # the next boundary is later

        assert await ticks.tick(local.replace(hour=16, minute=1)) == 1
        assert (await rules.risk(account_id, user_id)).trading_days == 1

        replayed = await rules.stub().ReplayAccount(
            pb.ReplayAccountRequest(account_id=account_id), metadata=rules.auth(role="admin")
        )
        live = await rules.risk(account_id, user_id)
        figures = ("status", "balance", "equity", "trading_days", "day_pnl", "as_of")
        assert [getattr(replayed.state, f) for f in figures] == [getattr(live, f) for f in figures]
    finally:
        await engine.dispose()
