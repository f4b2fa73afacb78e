"""Sustained monitoring load: fills and prices into the rules service over gRPC, across many accounts.

    PYTHONPATH=.:gen/python python benchmarks/bench_monitoring.py \
        [--accounts 10000] [--rate 2000] [--seconds 60] [--quote-share 0.05] [--breaches 20] [--senders 512] \
        [--clients 2] [--coalesce-ms <the gateway's ypf_webhook_coalesce_ms, 10>]

Real PostgreSQL and Redis (DATABASE_URL / REDIS_URL if set, else embedded servers in a temporary folder); the rules
service runs in this process (its gRPC server, inbox, enforcement worker), fed over gRPC exactly as the gateway
feeds it (signed YourPropFirm envelopes, one event per IngestTradeEvents call). `--accounts` accounts are activated
(bulk, not timed), each trading one instrument of the fifteen so a quote moves about 1/15 of the open positions.
Events are sent open-loop at `--rate` per second by `--senders` concurrent callers, spread over `--clients` client
processes standing where the gateway does (0: the callers run in the service's own process and event loop, which
then also pays for the clients' gRPC and signing): each event a fill (an account
opening or closing one contract) or, with probability `--quote-share`, a quote of one symbol. `--breaches` accounts
are driven into a hard breach by a losing fill spread over the run.

Prints: events sent and acknowledged, achieved rate, p50/p99/max event-to-decision (the IngestTradeEvents round trip:
when it returns, the new state, violations and enforcement jobs are committed), and p50/p99/max breach-to-enforcement
-call (from the breaching event's reply to the flatten call reaching the platform port; the port is an in-process
recorder here, so the figure is our pipeline: commit, worker wake-up, lease, call), and p50/p99/max of the breach
notice reaching the trader's Redis channel (what the gateway's WebSocket relays; the gateway's own hop to the browser
is not in this process) from when the breaching event was sent. With group commit on (rules_batch_max_events), it
also prints how many batches carried the events; and the CPU the run took, in cores, of the rules service, the
sender processes and a local PostgreSQL (2,000 events/s fits a machine only if their sum does).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from devstack import resolve
from libs.platform.migrate import upgrade

SECRET = "bench_ypf_whsec"
SYMBOLS = {
    "ES": "5000.00", "NQ": "20000.00", "YM": "40000", "RTY": "2000.0", "CL": "70.00", "GC": "2000.0",
    "MES": "5000.00", "MNQ": "20000.00", "MYM": "40000", "M2K": "2000.0", "MCL": "70.00", "MGC": "2000.0",
    "6E": "1.08000", "ZN": "110.000000", "ZB": "120.00000",
}  # fmt: skip
START = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Chicago


class RecordingPlatform:
    """The platform port, recording when each enforcement call reached it."""

    def __init__(self) -> None:
        self.flattened: dict[str, float] = {}

    async def flatten(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        self.flattened.setdefault(platform_account_id, time.perf_counter())
        return {}

    async def disable(self, platform_account_id: str, idempotency_key: str, reason: str) -> dict:
        return {}


def sign(body: bytes) -> str:
    stamp = int(time.time())
    return f"t={stamp},v1=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()


def envelope(kind: str, at: datetime, data: dict, account: str | None = None) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "accountId": account, "occurredAt": stamp, "data": data}
    return json.dumps(body).encode()


def fill(account: str, at: datetime, symbol: str, side: str, price: str) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = {"accountId": account, "symbol": symbol, "creationTimestamp": stamp, "price": price, "fees": "0.00",
            "side": side, "size": 1, "orderId": f"ord_{uuid.uuid4().hex[:12]}"}  # fmt: skip
    return envelope("trade", at, data, account)


def quote(at: datetime, symbol: str, price: str) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return envelope("quote", at, {"quotes": [{"symbol": symbol, "lastPrice": price, "timestamp": stamp}]})


async def activate(database_url: str, count: int) -> list[tuple[str, str, str]]:
    """(platform account, symbol, trader) for `count` new monitored accounts, inserted in bulk."""
    from libs.domain.rule_set import parse_rule_set
    from libs.platform.db import create_engine, session_factory
    from services.rules.adapters.sql.monitoring_store import SqlMonitoringStore
    from services.rules.application.monitored_account import MONITORING, MonitoredAccount
    from services.rules.domain.account_risk import AccountRisk

    rule_set = {"start_balance": "50000.00", "drawdown": {"mode": "static", "max_loss": "2000.00",
                                                            "lock": {"kind": "none"}}}  # fmt: skip
    fresh = AccountRisk(parse_rule_set(rule_set)).to_snapshot()
    engine = create_engine(database_url, "rules", pool_size=2)
    sessions = session_factory(engine)
    accounts = []
    symbols = list(SYMBOLS)
    for chunk in range(0, count, 500):
        async with sessions() as session, session.begin():
            store = SqlMonitoringStore(session)
            for index in range(chunk, min(count, chunk + 500)):
                platform_account, user_id = str(uuid.uuid4()), str(uuid.uuid4())
                account = MonitoredAccount(uuid.uuid4(), platform_account, user_id, "eval-50k", "phase_1", 1,
                                           rule_set, MONITORING, None, None, None)  # fmt: skip
                await store.activate(account, fresh, "active", START)
                accounts.append((platform_account, symbols[index % len(symbols)], user_id))
    await engine.dispose()
    return accounts


COALESCE_ENV = "BENCH_COALESCE_MS"  # --coalesce-ms, as the client processes see it


async def send_share(
    port: int, items: list, rate: float, begin: float, senders: int, coalesce_ms: float | None = None
) -> tuple:
    """Send `items` (global index, body, the account it breaches) open-loop, each at begin + index / rate, over
    `senders` concurrent calls; returns (latencies, failures, reply time and send time of each breaching event).
    Times are time.perf_counter (CLOCK_MONOTONIC: comparable between processes on one machine).

    `coalesce_ms` (default: --coalesce-ms, passed to client processes in BENCH_COALESCE_MS): above 0, the concurrent
    deliveries go through the gateway's own WebhookCoalescer (gateway/ypf_coalescer.py, ADR 0070) around this
    client's stub, as the gateway sends them; 0 is one IngestTradeEvents call per event."""
    from dynasty.rules.v1 import rules_service_pb2 as pb
    from dynasty.rules.v1 import rules_service_pb2_grpc as pb_grpc
    from libs.platform.grpc_client import insecure_channel

    if coalesce_ms is None:
        coalesce_ms = float(os.environ.get(COALESCE_ENV, "0"))
    channel = insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.RulesServiceStub(channel)
    coalescer = None
    if coalesce_ms > 0:
        from gateway.ypf_coalescer import WebhookCoalescer

        coalescer = WebhookCoalescer(stub, max_wait=coalesce_ms / 1000, timeout=60)  # the gateway's max_events
    latencies: list[float] = []
    replied: dict[str, float] = {}
    sent: dict[str, float] = {}
    failures = 0
    cpu_at_start = time.process_time()
    queue: asyncio.Queue = asyncio.Queue(maxsize=senders * 4)

    async def produce() -> None:
        for index, body, breaches in items:
            due = begin + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await queue.put((due, body, breaches))
        for _ in range(senders):
            await queue.put(None)

    async def send() -> None:
        nonlocal failures
        while (job := await queue.get()) is not None:
            due, body, breaches = job
            try:
                if coalescer is None:
                    await stub.IngestTradeEvents(
                        pb.IngestTradeEventsRequest(events=[pb.PlatformEvent(body=body, signature=sign(body))]),
                        timeout=60,
                    )
                else:
                    await coalescer.ingest(pb.PlatformEvent(body=body, signature=sign(body)))
            except Exception:
                failures += 1
                continue
            done = time.perf_counter()
            latencies.append(done - due)  # from when it was due: queueing behind a slow system counts
            if breaches:
                replied[breaches] = done
                sent[breaches] = due

    await asyncio.gather(produce(), *(send() for _ in range(senders)))
    if coalescer is not None:
        await coalescer.aclose()
        per_call = coalescer.events / max(1, coalescer.calls)
        print(f"client {os.getpid()}: {coalescer.events} events in {coalescer.calls} coalesced IngestTradeEvents calls "
              f"({per_call:.1f} per call, max wait {coalesce_ms} ms), {coalescer.fallbacks} refused groups split",
              flush=True)  # fmt: skip
    await channel.close()
    return latencies, failures, replied, sent, time.process_time() - cpu_at_start


def client_process(
    port: int, items: list, rate: float, begin: float, senders: int, coalesce_ms: float | None = None
) -> tuple:
    """A client process standing where the gateway does (its own interpreter and CPU share, as in production), and
    sending as the gateway does: coalesced when --coalesce-ms is above 0 (send_share)."""
    from libs.platform.protogen import ensure_generated

    ensure_generated()
    return asyncio.run(send_share(port, items, rate, begin, senders, coalesce_ms))


def processes_cpu_seconds(command: str) -> float | None:
    """CPU seconds used so far by every process of this machine named `command` (a local PostgreSQL's backends and
    helpers): Linux's /proc only, None elsewhere or when none is found (a remote server)."""
    proc, total, found = Path("/proc"), 0, False
    if not proc.is_dir():
        return None
    for entry in proc.iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == command:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
                found = True
        except OSError:  # the process ended meanwhile
            continue
    return total / os.sysconf("SC_CLK_TCK") if found else None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    from libs.platform.protogen import ensure_generated
    from libs.platform.service_main import build_server
    from services.rules.main import Adapters, Background, build_wire
    from services.rules.settings import RulesSettings

    ensure_generated()
    database_url, stop_db = resolve.database_url(data_dir, durable=False)
    redis_url, stop_redis = resolve.redis_url(data_dir, durable=False)
    upgrade("rules", database_url)
    platform = RecordingPlatform()
    settings = RulesSettings(DATABASE_URL=database_url, REDIS_URL=redis_url, grpc_port=0,
                             yourpropfirm_webhook_secret=SECRET, rules_reconciliation_poll_seconds=0)  # fmt: skip
    background = Background()

    async def jwks() -> dict:
        return {"keys": []}

    def wire(runtime):
        return dataclasses.replace(build_wire(Adapters(platform=platform), background, settings)(runtime),
                                   jwks_source=jwks)  # fmt: skip

    server, _relay, sender, engine = await build_server("rules", settings, wire)
    from libs.platform.gc_tuning import tune_for_latency

    tune_for_latency(settings.rules_gc_young_threshold)  # as services/rules/main.py does for the real process
    await server.start()
    worker = asyncio.create_task(background.worker.run())
    accounts = await activate(database_url, args.accounts)
    print(f"{len(accounts)} accounts activated; sending {args.rate}/s for {args.seconds}s")

    rng = random.Random(7)
    holding: dict[str, bool] = {}
    breachers = set(rng.sample(range(len(accounts)), min(args.breaches, len(accounts))))
    total = int(args.rate * args.seconds)
    breach_at = {int(total * (i + 1) / (len(breachers) + 1)): a for i, a in enumerate(sorted(breachers))}
    plan: list[tuple[bytes, str | None]] = []  # (body, the platform account it breaches)
    for n in range(total):
        at = START + timedelta(milliseconds=n)
        if n in breach_at:
            platform_account, symbol, _user = accounts[breach_at[n]]
            plan.append((fill(platform_account, at, symbol, "buy", SYMBOLS[symbol]), None))
            crash = str(Decimal(SYMBOLS[symbol]) / 2)  # half the price: a loss far past any floor, on the tick grid
            plan.append((fill(platform_account, at, symbol, "sell", crash), platform_account))
            continue
        if rng.random() < args.quote_share:
            symbol = rng.choice(list(SYMBOLS))
            plan.append((quote(at, symbol, SYMBOLS[symbol]), None))
            continue
        index = rng.randrange(len(accounts))
        platform_account, symbol, _user = accounts[index]
        side = "sell" if holding.get(platform_account) else "buy"
        holding[platform_account] = side == "buy"
        plan.append((fill(platform_account, at, symbol, side, SYMBOLS[symbol]), None))

    # The trader's breach notice: the enforcement worker's notify job publishes it on the trader's Redis channel,
    # which the gateway's WebSocket relays as it arrives; this subscriber stands where the gateway does.
    from redis.asyncio import Redis

    users = {accounts[a][0]: accounts[a][2] for a in breachers}
    by_channel = {f"notifications:user:{user}": platform_account for platform_account, user in users.items()}
    notified: dict[str, float] = {}
    redis = Redis.from_url(redis_url)
    pubsub = redis.pubsub()
    if by_channel:
        await pubsub.subscribe(*by_channel)

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message" and json.loads(message["data"]).get("type") == "violation":
                notified.setdefault(by_channel[message["channel"].decode()], time.perf_counter())

    listener = asyncio.create_task(listen())
    # Each event is due at begin + index / rate. Events of one account go to one client (hash of the account), so a
    # breacher's opening buy and losing sell are sent in order by the same client.
    items = [(index, body, breaches) for index, (body, breaches) in enumerate(plan)]
    begin = time.perf_counter() + (3.0 if args.clients else 0.0)  # spawned clients need a moment to start
    service_cpu, database_cpu = time.process_time(), processes_cpu_seconds("postgres")
    if args.clients:
        shares: list[list] = [[] for _ in range(args.clients)]
        for item in items:
            key = item[2] or json.loads(item[1]).get("accountId") or str(item[0])
            shares[zlib.crc32(key.encode()) % args.clients].append(item)
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.clients) as pool:
            senders = max(1, args.senders // args.clients)
            waiting = [
                pool.apply_async(client_process, (server.port, share, args.rate, begin, senders)) for share in shares
            ]
            # Waited for in threads: the server runs on this loop meanwhile.
            answers = await asyncio.gather(*(asyncio.to_thread(w.get) for w in waiting))
    else:
        answers = [await send_share(server.port, items, args.rate, begin, args.senders)]
    wall = time.perf_counter() - begin
    service_cpu = time.process_time() - service_cpu
    database_cpu = None if database_cpu is None else processes_cpu_seconds("postgres") - database_cpu
    latencies = [x for answer in answers for x in answer[0]]
    failures = sum(answer[1] for answer in answers)
    replied_breach = {k: v for answer in answers for k, v in answer[2].items()}
    sent_breach = {k: v for answer in answers for k, v in answer[3].items()}
    await asyncio.sleep(2)
    enforcement = [platform.flattened[a] - t for a, t in replied_breach.items() if a in platform.flattened]
    ms = [x * 1000 for x in latencies]
    print(f"events: {len(plan)} planned, {len(latencies)} acknowledged, {failures} failed, in {wall:.1f}s "
          f"= {len(latencies) / wall:.0f} events/s")  # fmt: skip
    # Where the machine's CPU went while sending (cores = CPU seconds per second of the run): the target is met only
    # if the service, its database and the gateway's share fit the machine together.
    clients_cpu = sum(answer[4] for answer in answers) if args.clients else None
    parts = [f"rules service {service_cpu / wall:.2f}" + ("" if args.clients else " (with the senders)")]
    if clients_cpu is not None:
        parts.append(f"senders (the gateway's part) {clients_cpu / wall:.2f}")
    if database_cpu is not None:
        parts.append(f"PostgreSQL {database_cpu / wall:.2f}")
    per_event = (service_cpu + (clients_cpu or 0) + (database_cpu or 0)) / max(1, len(latencies))
    print(f"CPU cores used: {', '.join(parts)}; CPU per event, all of them: {per_event * 1e6:.0f} us")
    print(f"event-to-decision ms: p50 {statistics.median(ms):.1f}  p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}")
    if enforcement:
        em = [x * 1000 for x in enforcement]
        print(f"breach-to-enforcement-call ms ({len(em)} of {len(replied_breach)} breaches): "
              f"p50 {statistics.median(em):.1f}  p99 {percentile(em, 0.99):.1f}  max {max(em):.1f}")  # fmt: skip
    noticed = [notified[a] - t for a, t in sent_breach.items() if a in notified]
    if noticed:
        nm = [x * 1000 for x in noticed]
        print(f"breach notice on the trader's Redis channel, ms after the breaching event was sent ({len(nm)} of "
              f"{len(sent_breach)}): p50 {statistics.median(nm):.1f}  p99 {percentile(nm, 0.99):.1f}  "
              f"max {max(nm):.1f}")  # fmt: skip
    listener.cancel()
    await pubsub.aclose()
    await redis.aclose()
    batcher = background.group_commit
    if batcher is not None:
        per_batch = batcher.batched_events / max(1, batcher.batches)
        print(f"group commit: {batcher.batches} batches, {batcher.batched_events} events ({per_batch:.1f} per batch), "
              f"{batcher.fallbacks} fell back")  # fmt: skip
    handler = background.batches
    if handler is not None:
        print(f"late events re-evaluated: {handler.late_in_memory} in memory, {handler.late_from_store} from the store")
    background.worker.stop()
    await worker
    await server.stop()
    await sender.close()
    await engine.dispose()
    for stop in (stop_redis, stop_db):
        if stop:
            stop()


def main() -> None:
    from gateway.settings import GatewaySettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quote-share", type=float, default=0.05)
    parser.add_argument("--breaches", type=int, default=20)
    # Webhook deliveries are concurrent: at 2,000/s and ~100 ms each, some 200 are in flight at once. A small pool of
    # senders would cap the service's batches at the pool's size and measure the pool, not the service.
    parser.add_argument("--senders", type=int, default=512)
    parser.add_argument("--clients", type=int, default=2, help="client processes sending (0: in this process)")
    parser.add_argument(
        "--coalesce-ms",
        type=float,
        default=GatewaySettings.model_fields["ypf_webhook_coalesce_ms"].default,
        help="send through the gateway's WebhookCoalescer with this max wait (ADR 0070; default: the gateway's "
        "default, so the benchmark sends as the gateway does); 0: one IngestTradeEvents call per event",
    )
    data_dir = Path(tempfile.mkdtemp(prefix="dynasty-bench-monitoring-"))
    data_dir.chmod(0o755)  # the embedded server runs as postgres when we are root
    args = parser.parse_args()
    os.environ[COALESCE_ENV] = str(args.coalesce_ms)  # read by send_share, in this process and the spawned clients
    asyncio.run(run(args, data_dir))


if __name__ == "__main__":
    main()
