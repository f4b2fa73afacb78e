"""The rules service's batch path alone: CPU and wall time per event through IngestBatchHandler, no gRPC.

    PYTHONPATH=.:gen/python python benchmarks/bench_ingest_batch.py [--accounts 10000] [--events 20000] [--batch 100]
        [--quote-share 0.05] [--profile]

Real PostgreSQL (DATABASE_URL if set, else an embedded server in a temporary folder). The accounts and the event mix
are bench_monitoring.py's (each account trades one of fifteen instruments, a quote every twentieth event on
average), the events parsed from signed envelopes beforehand and handed to the batch handler in batches of
`--batch`, one after the other, in exchange-time order. The first half warms the process's cache of states (as a
running service's is); the second half is measured. Prints CPU microseconds per event (this process:
time.process_time) and wall microseconds per event (including the waits on PostgreSQL); `--profile` adds the
functions that took the most time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import pstats
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from devstack import resolve
from libs.platform.migrate import upgrade


def _monitoring_bench():
    spec = importlib.util.spec_from_file_location("bench_monitoring", Path(__file__).with_name("bench_monitoring.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    from libs.platform.db import create_engine, session_factory
    from libs.platform.protogen import ensure_generated
    from services.rules.adapters.sql.unit_of_work import SqlMonitoringUnitOfWork
    from services.rules.adapters.yourpropfirm.envelopes import parse_envelope
    from services.rules.application.ingest_batch import IngestBatchHandler
    from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
    from services.rules.application.risk_cache import RiskCache

    ensure_generated()
    bench = _monitoring_bench()
    database_url, stop_db = resolve.database_url(data_dir, durable=False)
    upgrade("rules", database_url)
    accounts = await bench.activate(database_url, args.accounts)
    engine = create_engine(database_url, "rules", pool_size=4)
    sessions = session_factory(engine)

    def uow() -> SqlMonitoringUnitOfWork:
        return SqlMonitoringUnitOfWork(sessions)

    handler = IngestBatchHandler(uow, IngestTradeEventsHandler(uow), RiskCache())
    rng = random.Random(7)
    holding: dict[str, bool] = {}
    bodies = []
    for n in range(args.events):
        at = bench.START + timedelta(milliseconds=n)
        if rng.random() < args.quote_share:
            symbol = rng.choice(list(bench.SYMBOLS))
            bodies.append(bench.quote(at, symbol, bench.SYMBOLS[symbol]))
            continue
        platform_account, symbol, _user = accounts[rng.randrange(len(accounts))]
        side = "sell" if holding.get(platform_account) else "buy"
        holding[platform_account] = side == "buy"
        bodies.append(bench.fill(platform_account, at, symbol, side, bench.SYMBOLS[symbol]))
    events = [parse_envelope(body, i) for i, body in enumerate(bodies)]
    half = len(events) // 2
    for start in range(0, half, args.batch):
        await handler.handle(events[start : start + args.batch])
    profile = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    for start in range(half, len(events), args.batch):
        await handler.handle(events[start : min(len(events), start + args.batch)])
    if profile:
        profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    measured = len(events) - half
    print(f"{measured} events in batches of {args.batch}: {1e6 * cpu / measured:.0f} us CPU per event, "
          f"{1e6 * wall / measured:.0f} us wall per event; late re-evaluations {handler.late_in_memory} in memory, "
          f"{handler.late_from_store} from the store")  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    await engine.dispose()
    if stop_db:
        stop_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--quote-share", type=float, default=0.05)
    parser.add_argument("--profile", action="store_true")
    data_dir = Path(tempfile.mkdtemp(prefix="dynasty-bench-batch-"))
    data_dir.chmod(0o755)  # the embedded server runs as postgres when we are root
    asyncio.run(run(parser.parse_args(), data_dir))


if __name__ == "__main__":
    main()
