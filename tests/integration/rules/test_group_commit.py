"""Group commit (ADR 0061) on real PostgreSQL: concurrent callers' events in one transaction with each caller's own
outcomes, a failing batch falling back to per-event processing, the process cache never trusted past another
writer, late events inside and after a batch, quote coalescing, and the state after all of it equal to a replay of
the stored events; and, as a property, any split of a sequence into batches deciding what one-by-one ingestion
decides."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from libs.domain.rule_set import parse_rule_set
from libs.platform.db import create_engine, session_factory
from services.rules.adapters.sql.monitoring_store import SqlMonitoringStore
from services.rules.adapters.sql.unit_of_work import SqlMonitoringUnitOfWork
from services.rules.adapters.yourpropfirm.envelopes import parse_envelope, stored_fill_or_marks
from services.rules.application.current_risk import current_risk
from services.rules.application.group_commit import GroupCommit
from services.rules.application.ingest_batch import IngestBatchHandler
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.monitored_account import MONITORING, MonitoredAccount
from services.rules.application.risk_cache import RiskCache
from services.rules.application.risk_runner import StoredEvent, replay
from services.rules.domain.account_risk import AccountRisk
from tests.integration.rules.conftest import Platform, rule_set, session_start, window_end


class Service:
    """One rules process's ingestion: the batch path with its own cache, and the per-event path."""

    def __init__(self, sessions) -> None:
        self.sessions = sessions
        self.cache = RiskCache()
        self.per_event = IngestTradeEventsHandler(self.uow)
        self.batches = IngestBatchHandler(self.uow, self.per_event, self.cache)

    def uow(self) -> SqlMonitoringUnitOfWork:
        return SqlMonitoringUnitOfWork(self.sessions)


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url, "rules", pool_size=4)
    made: list[uuid.UUID] = []
    factory = session_factory(engine)
    factory.made = made
    yield factory
    if made:  # later tests' quotes must not keep moving these accounts
        async with factory() as session, session.begin():
            await session.execute(
                text("UPDATE rules.monitored_accounts SET status = 'stopped' WHERE account_id = ANY(:ids)"),
                {"ids": made},
            )
    await engine.dispose()


async def activate(sessions, rules: dict | None = None) -> MonitoredAccount:
    rules = rules or rule_set()
    account = MonitoredAccount(
        uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4()), "eval-50k", "phase_1", 1, rules, MONITORING, None, None,
        None,
    )  # fmt: skip
    async with sessions() as session, session.begin():
        await SqlMonitoringStore(session).activate(account, AccountRisk(parse_rule_set(rules)).to_snapshot(), "active",
                                                   session_start())  # fmt: skip
    sessions.made.append(account.account_id)
    return account


def parsed(*envelopes: dict):
    return [parse_envelope(json.dumps(envelope).encode(), i) for i, envelope in enumerate(envelopes)]


async def state_of(sessions, account_id: uuid.UUID) -> AccountRisk:
    async with sessions() as session:
        store = SqlMonitoringStore(session)
        risk, _ = await current_risk(store, await store.get_account(account_id))
        return risk


async def assert_failed_by(sessions, account: MonitoredAccount, crash: dict) -> None:
    """The account failed for max loss, its state is a replay's, and its one violation names `crash` as trigger."""
    risk = await state_of(sessions, account.account_id)
    assert risk.status.value == "failed" and risk.failure[0].value == "max_loss"
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()
    async with sessions() as session:
        violations = (
            await session.execute(
                text("SELECT rule, trigger_event_id FROM rules.violations WHERE account_id = :a"),
                {"a": account.account_id},
            )
        ).all()
    assert [(v.rule, v.trigger_event_id) for v in violations] == [("max_loss", crash["id"])]


async def replayed(sessions, account_id: uuid.UUID) -> AccountRisk:
    """The account rebuilt from nothing but its stored, applied events (as the e2e recovery check does)."""
    async with sessions() as session:
        account = await SqlMonitoringStore(session).get_account(account_id)
        rows = (
            await session.execute(
                text(
                    "SELECT id, provider_event_id, payload, exchange_at FROM rules.trade_events WHERE account_id = :a "
                    "AND event_type = 'trade' AND outcome = 'applied'"
                ),
                {"a": account_id},
            )
        ).all()
        if not rows:
            return AccountRisk(parse_rule_set(account.rule_set))
        first = min(row.exchange_at for row in rows)
        quotes = (
            await session.execute(
                text(
                    "SELECT id, provider_event_id, payload FROM rules.trade_events WHERE event_type = 'quote' "
                    "AND outcome = 'applied' AND exchange_at >= :first AND exchange_at < :end"
                ),
                # Every quote of the test's own market window, not only those up to the account's last event: a
                # quote the live state missed must show here (other tests' markets lie in other windows).
                {"first": first, "end": window_end(first)},
            )
        ).all()
    events = []
    for row in [*rows, *quotes]:
        fill, marks = stored_fill_or_marks(row.payload)
        events.append(StoredEvent(row.id, row.provider_event_id, fill, marks))
    risk = AccountRisk(parse_rule_set(account.rule_set))
    replay(risk, events)
    return risk


async def test_concurrent_callers_share_one_transaction_and_each_gets_its_own_outcomes(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    first = platform.trade(account.platform_account_id, t, "ES", "buy", 1, "5000.00", fees="2.50")
    assert [r.outcome for r in await service.batches.handle(parsed(first))] == ["applied"]
    group = GroupCommit(service.batches.handle, service.per_event.handle, max_wait=0.2)
    later = platform.trade(account.platform_account_id, t + timedelta(seconds=1), "ES", "sell", 1, "5004.00")
    stranger = platform.trade(str(uuid.uuid4()), t, "NQ", "buy", 1, "20000.00")
    quote = platform.quote(t + timedelta(seconds=2), ES="5001.00")
    try:
        answers = await asyncio.gather(
            group.submit(parsed(later, first)),  # one new, one already stored
            group.submit(parsed(stranger)),
            group.submit(parsed(quote, later)),  # `later` again, in another caller's request of the same batch
        )
    finally:
        await group.stop()

    assert [[r.outcome for r in answer] for answer in answers] == [
        ["applied", "duplicate"],
        ["quarantined"],
        ["applied", "duplicate"],
    ]
    assert (group.batches, group.batched_events, group.fallbacks) == (1, 5, 0)
    async with sessions() as session:
        transactions = (
            await session.execute(
                text("SELECT DISTINCT xmin::text FROM rules.trade_events WHERE provider_event_id = ANY(:ids)"),
                {"ids": [later["id"], quote["id"]]},
            )
        ).all()
    assert len(transactions) == 1  # stored by one transaction
    risk = await state_of(sessions, account.account_id)
    assert str(risk.balance) == "50197.50"  # +4 points x 50, less the 2.50 fee


async def test_a_failing_event_fails_only_its_own_caller_after_the_batch_falls_back(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    good = platform.trade(account.platform_account_id, t, "ES", "buy", 1, "5000.00")
    # Valid JSON the envelope parser accepts, which PostgreSQL's jsonb refuses (\u0000): the batch's INSERT fails.
    bad = platform.trade(account.platform_account_id, t + timedelta(seconds=1), "ES", "buy", 1, "5000.00")
    bad["data"]["orderId"] = "ord_\u0000"
    other = await activate(sessions)
    fine = platform.trade(other.platform_account_id, t, "NQ", "sell", 1, "20000.00")
    group = GroupCommit(service.batches.handle, service.per_event.handle, max_wait=0.2)
    try:
        answers = await asyncio.gather(
            group.submit(parsed(good)), group.submit(parsed(bad)), group.submit(parsed(fine)), return_exceptions=True
        )
    finally:
        await group.stop()

    assert group.fallbacks == 1
    assert [r.outcome for r in answers[0]] == ["applied"] and [r.outcome for r in answers[2]] == ["applied"]
    assert isinstance(answers[1], Exception)
    async with sessions() as session:
        stored = (
            await session.execute(
                text("SELECT provider_event_id FROM rules.trade_events WHERE provider_event_id = ANY(:ids)"),
                {"ids": [good["id"], bad["id"], fine["id"]]},
            )
        ).scalars()
        assert set(stored) == {good["id"], fine["id"]}
    assert len((await state_of(sessions, account.account_id)).positions) == 1


async def test_a_cached_state_is_not_used_once_another_writer_moved_the_account(sessions):
    ours, theirs = Service(sessions), Service(sessions)  # two replicas, each with its own cache
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    buy = platform.trade(account.platform_account_id, t, "ES", "buy", 1, "5000.00", fees="2.50")
    await ours.batches.handle(parsed(buy))
    assert len(ours.cache) == 1

    sell = platform.trade(account.platform_account_id, t + timedelta(seconds=1), "ES", "sell", 1, "5010.00")
    await theirs.batches.handle(parsed(sell))  # the other replica closes the position
    misses = ours.cache.misses
    again = platform.trade(account.platform_account_id, t + timedelta(seconds=2), "ES", "buy", 1, "5010.00")
    await ours.batches.handle(parsed(again))

    assert ours.cache.misses == misses + 1  # the row's version moved on: restored from the row, not the cache
    risk = await state_of(sessions, account.account_id)
    assert str(risk.balance) == "50497.50" and list(risk.positions) == ["ES"]
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


async def test_quotes_that_decide_nothing_leave_the_snapshot_and_recovery_replays_them(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    await service.batches.handle(parsed(platform.trade(account.platform_account_id, t, "ES", "buy", 2, "5000.00")))

    async def row_and_cursor():
        async with sessions() as session:
            return (
                await session.execute(
                    text(
                        "SELECT s.saved_event_row, s.last_event_row, s.state_version, c.quote_row "
                        "FROM rules.risk_states s, rules.quote_cursors c WHERE s.account_id = :a AND c.symbol = 'ES'"
                    ),
                    {"a": account.account_id},
                )
            ).one()

    before = await row_and_cursor()
    for n in range(1, 6):
        await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=n), ES=f"{5000 + n}.00")))
    after = await row_and_cursor()
    # Five quotes that decided nothing wrote nothing of the account (ADR 0068): not its snapshot, not its row; the
    # ES cursor moved to the last of them, and the account stands behind it.
    assert (after.saved_event_row, after.last_event_row, after.state_version) == (
        before.saved_event_row,
        before.last_event_row,
        before.state_version,
    )
    assert after.quote_row > after.last_event_row

    # A fresh process (no cache) restores it from the row plus the stored quotes: the state a full replay gives.
    risk = await state_of(sessions, account.account_id)
    assert str(risk.equity) == "50500.00"
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


async def test_events_late_only_behind_quotes_are_re_evaluated_in_memory(sessions):
    # ADR 0068: a quote that arrives after a later quote of the same symbol, or a fill that arrives after a later
    # quote of a symbol its account holds, lies after the account's last saved event: the batch replays what it
    # applied since then with the late event, in memory, and never reads the stored snapshots and events for it.
    service = Service(sessions)
    from_store = 0
    reevaluate = service.per_event.reevaluate

    async def counted(*args, **kwargs):
        nonlocal from_store
        from_store += 1
        return await reevaluate(*args, **kwargs)

    service.per_event.reevaluate = counted
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    a = account.platform_account_id
    await service.batches.handle(parsed(platform.trade(a, t, "ES", "buy", 1, "5000.00")))
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=20), ES="5010.00")))
    # A crash stamped before the quote above arrives after it: the breach is at its own instant.
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=10), ES="4959.75")))

    risk = await state_of(sessions, account.account_id)
    assert risk.status.value == "failed" and risk.failure[0].value == "max_loss"
    assert risk.failure[1] == t + timedelta(seconds=10)
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()

    other = await activate(sessions)
    b = other.platform_account_id
    await service.batches.handle(parsed(platform.trade(b, t + timedelta(seconds=30), "NQ", "buy", 1, "20000.00")))
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=50), NQ="20010.00")))
    # The account's own fill, stamped before that quote, arrives after it: replayed with the window, in memory.
    await service.batches.handle(parsed(platform.trade(b, t + timedelta(seconds=40), "NQ", "buy", 1, "20002.00")))

    risk = await state_of(sessions, other.account_id)
    assert risk.positions["NQ"].net_qty == 2
    assert risk.to_snapshot() == (await replayed(sessions, other.account_id)).to_snapshot()
    assert from_store == 0

    # ADR 0071: a flat account's late fill opens a symbol quoted since. The quote is not in its window (it held
    # nothing then), but the batch's quote log has every applied quote of the symbol since: still in memory, and
    # the account is marked at that quote, as a replay marks it.
    flat = await activate(sessions)
    f = flat.platform_account_id
    await service.batches.handle(parsed(platform.trade(f, t + timedelta(seconds=31), "CL", "buy", 1, "70.00")))
    await service.batches.handle(parsed(platform.trade(f, t + timedelta(seconds=32), "CL", "sell", 1, "70.00")))
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=55), NQ="20030.00")))
    await service.batches.handle(parsed(platform.trade(f, t + timedelta(seconds=45), "NQ", "buy", 1, "20000.00")))
    await assert_holds_as_replayed(sessions, flat, "NQ", qty=1, marked="20030.00")
    assert from_store == 0

    # Another writer applied a quote of the symbol (here this process's per-event path, as after a failed batch;
    # another replica alike): the cursor's count of writers is not the log's, so the log no longer knows every quote
    # of it and the next late fill of it is re-evaluated from the store.
    await service.per_event.handle(parsed(platform.quote(t + timedelta(seconds=56), NQ="20040.00")))
    await service.batches.handle(parsed(platform.trade(f, t + timedelta(seconds=46), "NQ", "buy", 1, "20001.00")))
    await assert_holds_as_replayed(sessions, flat, "NQ", qty=2, marked="20040.00")
    assert from_store == 1
    from_store = 0

    # A quote stamped while the account held the symbol arrives after the fill that closed it: the window of fills
    # and quotes since the account's base is replayed with it, in memory; the crash fails the account at its instant.
    third = await activate(sessions)
    c = third.platform_account_id
    await service.batches.handle(parsed(platform.trade(c, t + timedelta(seconds=60), "ES", "buy", 1, "5000.00")))
    await service.batches.handle(parsed(platform.trade(c, t + timedelta(seconds=80), "ES", "sell", 1, "5001.00")))
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=70), ES="4900.00")))

    risk = await state_of(sessions, third.account_id)
    assert risk.status.value == "failed" and risk.failure[1] == t + timedelta(seconds=70)
    assert risk.to_snapshot() == (await replayed(sessions, third.account_id)).to_snapshot()
    assert from_store == 0
    assert service.batches.late_superseded == 0  # each of those late quotes decided something or moved a mark


class RecordedNotices:
    """The live notices port, recording what is published; nobody's presence is known, so all risk figures go."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    async def watched_users(self) -> None:
        return None

    async def publish_many(self, notices: list[tuple[str, dict]]) -> None:
        self.published.extend(notices)


async def test_a_quiet_quote_is_deferred_yet_its_figures_go_live_and_the_next_fill_applies_it(sessions):
    # ADR 0071: a quote that decides nothing for a holder is not run through the engine; the trader's live figures
    # still carry its equity, and the account's next event applies it first, so the state is a replay's.
    notices = RecordedNotices()
    service = Service(sessions)
    batches = IngestBatchHandler(service.uow, service.per_event, service.cache, notices)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    a = account.platform_account_id
    await batches.handle(parsed(platform.trade(a, t, "ES", "buy", 1, "5000.00")))
    await batches.handle(parsed(platform.quote(t + timedelta(seconds=1), ES="5010.00")))
    work = service.cache._entries[account.account_id]  # the cached working state: the quote is pending on it
    assert work.deferred is not None and work.deferred_equity == Decimal("50500.00")

    await asyncio.sleep(0.3)  # the throttle's interval (0.25 s) after the fill's figures
    risk_figures = [
        n for _, n in notices.published if n["type"] == "risk" and n["account_id"] == str(account.account_id)
    ]
    assert [Decimal(n["equity"]) for n in risk_figures] == [Decimal("50000.00"), Decimal("50500.00")]
    assert risk_figures[-1]["as_of"] == (t + timedelta(seconds=1)).isoformat()

    await batches.handle(parsed(platform.trade(a, t + timedelta(seconds=2), "ES", "sell", 1, "5020.00")))
    assert work.deferred is None
    risk = await state_of(sessions, account.account_id)
    assert risk.marks["ES"] == Decimal("5020.00") and risk.balance == Decimal("51000.00")  # 20 points x $50
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


async def test_a_late_quote_a_later_quote_made_moot_is_kept_without_a_replay_and_one_that_breaches_is_not(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    a = account.platform_account_id
    await service.batches.handle(parsed(platform.trade(a, t, "ES", "buy", 1, "5000.00")))
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=20), ES="5010.00")))
    # Stamped before the quote above, harmless: the later quote already overwrote all it could change.
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=10), ES="4990.00")))
    assert service.batches.late_superseded == 1
    risk = await state_of(sessions, account.account_id)
    assert str(risk.equity) == "50500.00"
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()

    # Stamped before it too, but below the floor at its instant: replayed, and the account fails then.
    await service.batches.handle(parsed(platform.quote(t + timedelta(seconds=15), ES="4950.00")))
    assert service.batches.late_superseded == 1
    risk = await state_of(sessions, account.account_id)
    assert risk.status.value == "failed" and risk.failure[1] == t + timedelta(seconds=15)
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


async def test_late_events_inside_and_after_a_batch_give_the_in_order_state(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    a = account.platform_account_id
    buy = platform.trade(a, t, "ES", "buy", 1, "5000.00")
    crash = platform.quote(t + timedelta(minutes=1), ES="4959.75")
    close = platform.trade(a, t + timedelta(minutes=2), "ES", "sell", 1, "5000.00")
    reopen = platform.trade(a, t + timedelta(minutes=3), "ES", "buy", 1, "5000.00")
    await service.batches.handle(parsed(buy, close))  # the account looks flat and fine
    assert (await state_of(sessions, account.account_id)).status.value == "active"

    # The crash arrives late, in the same batch as a later fill: it re-evaluates from before it.
    await service.batches.handle(parsed(reopen, crash))

    await assert_failed_by(sessions, account, crash)


async def test_coalesced_quotes_still_find_the_breach_and_replays_skip_exactly_the_skipped_ones(sessions):
    service = Service(sessions)
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    await service.batches.handle(parsed(platform.trade(account.platform_account_id, t, "ES", "buy", 1, "5000.00")))
    prices = ["4999.00", "4990.00", "4959.75", "4985.00", "4995.00", "4998.00", "4997.00"]
    quotes = [platform.quote(t + timedelta(seconds=1 + n), ES=price) for n, price in enumerate(prices)]

    outcomes = [r.outcome for r in await service.batches.handle(parsed(*quotes))]

    assert outcomes.count("recorded") >= 2  # coalesced: stored, not applied
    risk = await state_of(sessions, account.account_id)
    assert risk.status.value == "failed" and risk.failure[0].value == "max_loss"
    async with sessions() as session:
        evidence = (
            await session.execute(
                text("SELECT evidence FROM rules.violations WHERE account_id = :a"), {"a": account.account_id}
            )
        ).scalar_one()
        coalesced = (
            await session.execute(
                text(
                    "SELECT count(*) FROM rules.trade_events "
                    "WHERE provider_event_id = ANY(:ids) AND outcome = 'coalesced'"
                ),
                {"ids": [q["id"] for q in quotes]},
            )
        ).scalar_one()
    assert evidence["trigger"]["price"] == "4959.75" and coalesced == outcomes.count("recorded")
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


@pytest.mark.parametrize("path", ["batches", "per_event"])
async def test_a_fill_arriving_after_a_later_quote_of_its_symbol_is_marked_by_that_quote_as_a_replay_does(
    sessions, path
):
    service = Service(sessions)
    ingest = getattr(service, path).handle
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    a = account.platform_account_id
    assert [r.outcome for r in await ingest(parsed(platform.quote(t + timedelta(seconds=2), ES="5010.00")))] == [
        "applied"
    ]

    # In order for the account (nothing of it is later), but the market already saw ES at 5010 after it.
    outcomes = await ingest(parsed(platform.trade(a, t + timedelta(seconds=1), "ES", "buy", 1, "5000.00")))

    assert [r.outcome for r in outcomes] == ["applied"]
    risk = await state_of(sessions, account.account_id)
    assert str(risk.equity) == "50500.00"  # +10 points x 50: the later quote marked the new position
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()

    # A quote between the fill and the caught-up one is late for the account now; a later one is in order.
    await ingest(parsed(platform.quote(t + timedelta(milliseconds=1500), ES="4990.00")))
    await ingest(parsed(platform.quote(t + timedelta(seconds=3), ES="5002.00")))
    risk = await state_of(sessions, account.account_id)
    assert str(risk.equity) == "50100.00"
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


@pytest.mark.parametrize("path", ["batches", "per_event"])
async def test_a_later_quote_caught_up_after_a_fill_decides_the_breach_it_causes(sessions, path):
    service = Service(sessions)
    ingest = getattr(service, path).handle
    account = await activate(sessions)
    platform, t = Platform(), session_start()
    crash = platform.quote(t + timedelta(seconds=2), ES="4959.75")
    await ingest(parsed(crash))

    await ingest(
        parsed(platform.trade(account.platform_account_id, t + timedelta(seconds=1), "ES", "buy", 1, "5000.00"))
    )

    await assert_failed_by(sessions, account, crash)


MOVES = st.lists(
    st.tuples(st.sampled_from(["buy", "sell", "quote"]), st.integers(min_value=-60, max_value=60)),
    min_size=2,
    max_size=10,
)


def envelopes_for(moves, account: MonitoredAccount, start) -> list[dict]:
    """The property tests' moves as the platform's envelopes for `account`, one second apart from `start`: ES fills
    of one contract and ES quotes, each at 5000 plus its ticks."""
    platform, out = Platform(), []
    for n, (kind, ticks) in enumerate(moves):
        at, price = start + timedelta(seconds=n), f"{5000 + ticks * 0.25:.2f}"
        out.append(platform.quote(at, ES=price) if kind == "quote" else
                   platform.trade(account.platform_account_id, at, "ES", kind, 1, price))  # fmt: skip
    return out


def shuffled(rng: random.Random, items: list) -> list:
    rng.shuffle(items)
    return items


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES, seed=st.integers(min_value=0, max_value=10**6))
async def test_any_split_into_batches_decides_what_one_by_one_ingestion_decides(sessions, moves, seed):
    rng = random.Random(seed)
    service = Service(sessions)
    t = session_start()
    rules = rule_set(max_loss="1000.00")

    # The sequence in exchange-time order: one account takes it one event per transaction on the per-event path,
    # the other in batches cut anywhere, each batch's events arriving in any order (the batch orders them).
    one_by_one = await activate(sessions, rules)
    for envelope in envelopes_for(moves, one_by_one, t):
        await service.per_event.handle(parsed(envelope))
    expected = await state_of(sessions, one_by_one.account_id)
    await stop(sessions, one_by_one)  # later quotes must not move it

    batched = await activate(sessions, rules)
    arrivals = envelopes_for(moves, batched, t + timedelta(hours=1))
    cuts = sorted(rng.sample(range(1, len(arrivals)), rng.randrange(len(arrivals))))
    for start, end in zip([0, *cuts], [*cuts, len(arrivals)], strict=True):
        batch = arrivals[start:end]
        rng.shuffle(batch)
        await service.batches.handle(parsed(*batch))
    got = await state_of(sessions, batched.account_id)

    figures = ("status", "balance", "equity", "floor", "high_water_mark")
    assert [getattr(got, f) for f in figures] == [getattr(expected, f) for f in figures]
    assert [await decided(sessions, a) for a in (batched, one_by_one)] == [await decided(sessions, one_by_one)] * 2
    assert got.to_snapshot() == (await replayed(sessions, batched.account_id)).to_snapshot()
    await stop(sessions, batched)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Found by this property on 2026-11-25: a quote arriving after the later quote whose breach liquidated the position
# (flat now, no trade since) was never applied; and a late fill before a late quote that had found the account flat.
@example(moves=[("buy", 56), ("quote", -25), ("quote", -25)], seed=0)
@example(moves=[("buy", 21), ("quote", -60), ("buy", 0)], seed=0)
# And: a late fill before a quote its account's window never held (the account was flat when the quote came).
@example(moves=[("buy", 0)] * 4 + [("quote", -21)] + [("buy", 0)] * 3 + [("buy", -55), ("buy", 0)], seed=0)
# And (2026-11-25, ADR 0071): a late fill's snapshot, kept at the last event, saved over the breach a later late
# quote found in the same batch.
@example(
    moves=[
        ("buy", 0), ("buy", -8), ("sell", -30), ("quote", -55), ("buy", -3),
        ("quote", -31), ("quote", -19), ("quote", -11), ("quote", 0),
    ],
    seed=0,
)  # fmt: skip
@given(moves=MOVES, seed=st.integers(min_value=0, max_value=10**6))
async def test_any_arrival_order_on_either_path_ends_in_the_state_a_replay_of_the_stored_events_gives(
    sessions, moves, seed
):
    # Events arrive in any order across exchange time (a fill after a later quote of its symbol, a quote after a
    # later fill), one per transaction on the per-event path and in batches cut anywhere on the batch path. What is
    # decided may then differ from in-order ingestion (a breach is final, and decided on what has arrived), but
    # the live state must be what a replay of the stored events gives: recovery equals replay.
    rng = random.Random(seed)
    service = Service(sessions)
    t = session_start()
    rules = rule_set(max_loss="1000.00")

    one_by_one = await activate(sessions, rules)
    for envelope in shuffled(rng, envelopes_for(moves, one_by_one, t)):
        await service.per_event.handle(parsed(envelope))
    got = await state_of(sessions, one_by_one.account_id)
    assert got.to_snapshot() == (await replayed(sessions, one_by_one.account_id)).to_snapshot()
    await stop(sessions, one_by_one)  # later quotes must not move it

    batched = await activate(sessions, rules)
    arrivals = shuffled(rng, envelopes_for(moves, batched, t + timedelta(hours=1)))
    cuts = sorted(rng.sample(range(1, len(arrivals)), rng.randrange(len(arrivals))))
    for start, end in zip([0, *cuts], [*cuts, len(arrivals)], strict=True):
        await service.batches.handle(parsed(*arrivals[start:end]))
    got = await state_of(sessions, batched.account_id)
    assert got.to_snapshot() == (await replayed(sessions, batched.account_id)).to_snapshot()
    await stop(sessions, batched)


async def assert_holds_as_replayed(sessions, account: MonitoredAccount, symbol: str, qty: int, marked: str) -> None:
    """The account's state holds `qty` of `symbol` marked at `marked`, and is what a replay of its events gives."""
    risk = await state_of(sessions, account.account_id)
    assert risk.marks[symbol] == Decimal(marked) and risk.positions[symbol].net_qty == qty
    assert risk.to_snapshot() == (await replayed(sessions, account.account_id)).to_snapshot()


async def stop(sessions, account: MonitoredAccount) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE rules.monitored_accounts SET status = 'stopped' WHERE account_id = :a"),
            {"a": account.account_id},
        )


async def decided(sessions, account: MonitoredAccount) -> list[tuple]:
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT rule, severity, evidence FROM rules.violations WHERE account_id = :a ORDER BY occurred_at"
                ),
                {"a": account.account_id},
            )
        ).all()
    return [(r.rule, r.severity, r.evidence["equity"], r.evidence["trigger"]["price"]) for r in rows]
