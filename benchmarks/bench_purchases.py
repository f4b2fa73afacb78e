"""A promotional launch: N purchases within S seconds through the gateway, the Stripe stand-in and its webhooks.

    PYTHONPATH=.:gen/python python benchmarks/bench_purchases.py [--purchases 1000] [--seconds 60] [--traders 100]

Starts the whole stack as processes (devstack.stack.Stack: four services, the gateway, the Stripe stand-in, the
YourPropFirm simulator; DATABASE_URL / REDIS_URL if set, else embedded servers in a temporary folder), registers
`--traders` traders (not timed: argon2id), then starts the purchases evenly spread over `--seconds`: each is
POST /v1/orders through the gateway, then the stand-in's pay control (the customer paying on Stripe's page), after
which the stand-in sends its signed webhooks to the gateway. The time from the pay call's answer to the account's
activation notice on Redis (`notifications:user:<id>`, published right after the activating commit) is recorded per
order: it includes the stand-in's webhook delivery, so it is an upper bound of "payment webhook -> account active".

Prints purchases started/finished, the wall time, p50/p99/max of payment -> active, where the time goes (payment ->
webhook applied -> provisioned), the CPU each process of the stack spent per purchase, and the check against the
database: accounts per order (lost = paid orders without an account, duplicated = orders with more than one),
all accounts phase_1, and the platform accounts (one per account). `--profile-challenges FILE` writes a CPU-time
profile of the challenges service (benchmarks/cpu_profile.py); `--provisioning-process` runs the provisioning worker
as its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from devstack import resolve
from devstack.stack import SERVICES, Stack, free_port
from libs.platform.mailbox import read_mailbox
from libs.platform.redis import create_redis

PASSWORD = "benchmark passphrase that is long enough"
VERIFY_LINK = re.compile(r"verify-email\?token=(\S+)")


class LaunchStack(Stack):
    """The devstack, with the Stripe stand-in delivering `webhook_concurrency` webhooks at once, as Stripe does
    (the devstack's default of one at a time keeps creation order for the tests, and is not what Stripe does)."""

    webhook_concurrency: int = 4
    profile_to: str | None = None  # a file: run the challenges service under cProfile (where does its CPU go?)
    provisioning_process: bool = False  # run the provisioning worker as its own process (ADR 0059)

    def _env(self, name: str) -> dict[str, str]:
        env = super()._env(name)
        if self.provisioning_process and name in ("challenges", "challenges-provisioning"):
            env["DYNASTY_CHALLENGES_PROVISIONING_IN_PROCESS"] = "false"
        return env

    provisioning_profile_to: str | None = None

    def start_provisioning_process(self) -> None:
        module = ["-m", "services.challenges.provisioning_main"]
        if self.provisioning_profile_to:
            module = ["-m", "benchmarks.cpu_profile", self.provisioning_profile_to, module[1]]
        self._spawn("challenges-provisioning", [sys.executable, *module])

    def _spawn(self, name: str, command: list[str]) -> None:
        if name == "stripe":
            command = [*command, "--webhook-concurrency", str(self.webhook_concurrency)]
        if name == "challenges" and self.profile_to:
            # CPU time, not wall time: on a shared machine the wall clock charges waiting for a core to the code.
            command = [command[0], "-m", "benchmarks.cpu_profile", self.profile_to, *command[2:]]
        super()._spawn(name, command)


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime (stat fields 14, 15)


def cpu_seconds(stack: Stack, database_url: str) -> dict[str, float]:
    """CPU (user + system) each process of the stack has used so far, from /proc (Linux), plus this load generator's
    own and PostgreSQL's backends serving the run's database (when the server runs on this machine): on a shared
    2-core machine the question is which tier spends the cores, not only where a request waits."""
    used: dict[str, float] = {}
    for name, process in stack._processes.items():
        seconds = _process_cpu(process.pid)
        if seconds is not None:
            used[name] = seconds
    times = os.times()
    used["load generator"] = times.user + times.system
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    for pid in pids:  # backends are pooled, so the same ones serve the whole run
        used[f"postgres:{pid}"] = _process_cpu(pid) or 0.0
    return used


async def register(http: httpx.AsyncClient, stack: Stack, n: int) -> list[dict[str, str]]:
    traders = []
    for _ in range(n):
        email = f"promo-{uuid.uuid4().hex[:10]}@example.com"
        (await http.post("/v1/auth/register", json={"email": email, "password": PASSWORD})).raise_for_status()
        token = None
        for _ in range(200):
            for message in read_mailbox(stack.mail_dir, to=email):
                found = VERIFY_LINK.search(message.get_content())
                token = found.group(1) if found else token
            if token:
                break
            await asyncio.sleep(0.05)
        (await http.post("/v1/auth/verify-email", json={"token": token})).raise_for_status()
        reply = await http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        reply.raise_for_status()
        traders.append({"Authorization": f"Bearer {reply.json()['session']['access_token']}"})
    return traders


async def run(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="dynasty-bench-purchases-"))
    database_url, stop_db = resolve.database_url(data_dir, durable=False)
    redis_url, stop_redis = resolve.redis_url(data_dir, durable=False)
    if not os.environ.get("DATABASE_URL"):
        print(f"embedded PostgreSQL in {data_dir}")
    # A database of the run's own, so counts are this run's.
    import psycopg

    name = f"bench_purchases_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = database_url.partition("?")[0].rpartition("/")[0]
    own_url = f"{base}/{name}"
    stack = LaunchStack(
        data_dir=data_dir,
        ports={n: free_port() for n in (*SERVICES, "gateway", "stripe", "oidc", "ypf")},
        database_url=own_url,
        redis_url=redis_url,
        durable=False,
        log=lambda m: None,
    )
    stack.webhook_concurrency = args.webhook_concurrency
    stack.profile_to = args.profile_challenges
    stack.provisioning_process = args.provisioning_process or bool(args.profile_provisioning)
    stack.provisioning_profile_to = args.profile_provisioning
    stack.start(timeout=120)
    if stack.provisioning_process:
        stack.start_provisioning_process()
    try:
        return await measure(stack, own_url, redis_url, args)
    finally:
        stack.stop()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for stop in (stop_redis, stop_db):
            if stop:
                stop()


async def measure(stack: Stack, database_url: str, redis_url: str, args: argparse.Namespace) -> int:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, limits=limits) as http,
        httpx.AsyncClient(base_url=stack.stripe_url, timeout=60, limits=limits) as stripe_control,
    ):
        # As the production Stripe endpoint is configured (ADR 0050): subscribed to the event types we act on only.
        from gateway.stripe_events.challenges import EVENT_PREFIXES

        enabled = [*EVENT_PREFIXES, "identity.verification_session.*"]
        (await stripe_control.post("/_standin/config", json={"enabled_events": enabled})).raise_for_status()
        started_setup = time.monotonic()
        traders = await register(http, stack, args.traders)
        print(f"registered {len(traders)} traders in {time.monotonic() - started_setup:.1f}s (not timed)")

        paid_at: dict[str, float] = {}  # order id -> when the pay call answered
        paid_wall: dict[str, float] = {}  # the same, wall clock, to compare with the database's timestamps
        active_at: list[tuple[str, float]] = []
        redis = create_redis(redis_url)
        pubsub = redis.pubsub()
        # Only this run's traders: Redis pub/sub ignores the database number, so on a shared Redis server another
        # stack's (or test's) activation notices would otherwise count as ours and end the wait early.
        import jwt

        user_ids = {
            jwt.decode(t["Authorization"].split()[1], options={"verify_signature": False})["sub"] for t in traders
        }
        await pubsub.subscribe(*(f"notifications:user:{user_id}" for user_id in user_ids))

        async def listen() -> None:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    notice = json.loads(message["data"])
                    if notice.get("type") == "account.activated":
                        active_at.append((notice["account_id"], time.monotonic()))

        listener = asyncio.create_task(listen())
        failures: list[str] = []
        order_of_session: dict[str, str] = {}

        async def purchase(i: int, start_at: float) -> None:
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            headers = traders[i % len(traders)]
            reply = await http.post(
                "/v1/orders",
                json={"program_id": "eval-50k", "success_url": "https://a.test/ok", "cancel_url": "https://a.test/no"},
                headers={**headers, "Idempotency-Key": f"bench-{i}-{uuid.uuid4().hex[:6]}"},
            )
            if reply.status_code != 201:
                failures.append(f"order {i}: {reply.status_code} {reply.text[:200]}")
                return
            order = reply.json()
            session_id = order["checkout_url"].rsplit("/", 1)[-1]
            paid = await stripe_control.post(f"/_standin/checkout/sessions/{session_id}/pay", json={})
            if paid.status_code != 200:
                failures.append(f"pay {i}: {paid.status_code} {paid.text[:200]}")
                return
            paid_at[order["id"]] = time.monotonic()
            paid_wall[order["id"]] = time.time()
            order_of_session[session_id] = order["id"]

        cpu_before = cpu_seconds(stack, database_url)
        t0 = time.monotonic()
        spacing = args.seconds / args.purchases if args.purchases else 0
        await asyncio.gather(*(purchase(i, t0 + i * spacing) for i in range(args.purchases)))
        issued = time.monotonic() - t0
        print(f"{len(paid_at)} purchases paid, {len(failures)} failed, issued in {issued:.1f}s")
        for failure in failures[:5]:
            print("  ", failure)

        # Wait until every paid order has an active account (or give up after two minutes).
        for _ in range(600):
            if len(active_at) >= len(paid_at):
                break
            await asyncio.sleep(0.2)
        drained = time.monotonic() - t0
        cpu_after = cpu_seconds(stack, database_url)
        listener.cancel()
        await pubsub.aclose()
        await redis.aclose()

    # Join activation notices to orders through the database, and count what the database holds.
    from sqlalchemy import text

    from libs.platform.db import create_engine

    engine = create_engine(database_url, "challenges", pool_size=1)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT account_id::text, order_id::text, status FROM challenges.trading_accounts"))
        ).all()
        per_order = dict(
            (
                await conn.execute(text("SELECT order_id::text, count(*) FROM challenges.trading_accounts GROUP BY 1"))
            ).all()
        )
        stages = (
            await conn.execute(
                text(
                    "SELECT a.order_id::text AS order_id, extract(epoch FROM a.created_at) AS created,"
                    " extract(epoch FROM j.done_at) AS done FROM challenges.trading_accounts a"
                    " JOIN challenges.provisioning_jobs j USING (account_id)"
                )
            )
        ).all()
        platform_ids = (
            await conn.execute(text("SELECT count(DISTINCT platform_account_id) FROM challenges.trading_accounts"))
        ).scalar_one()
    await engine.dispose()
    order_of_account = {r.account_id: r.order_id for r in rows}
    latencies = sorted(
        (at - paid_at[order_of_account[a]]) * 1000 for a, at in active_at if order_of_account.get(a) in paid_at
    )
    lost = [o for o in paid_at if per_order.get(o, 0) == 0]
    duplicated = [o for o, n in per_order.items() if n > 1]
    not_active = [r for r in rows if r.status != "phase_1"]
    print(f"all activated after {drained:.1f}s; accounts {len(rows)}, platform accounts {platform_ids}")
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"payment -> account active: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms")
        print(f"purchase_payment_to_active_p99_ms {p99:.0f}")
    # Where the time goes: payment -> webhook applied (account row created), then -> provisioned (job done).
    to_webhook = sorted((float(r.created) - paid_wall[r.order_id]) * 1000 for r in stages if r.order_id in paid_wall)
    to_platform = sorted((float(r.done) - float(r.created)) * 1000 for r in stages if r.done is not None)
    for label, values in (("payment -> webhook applied", to_webhook), ("webhook applied -> provisioned", to_platform)):
        if values:
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            print(f"  {label}: p50 {statistics.median(values):.0f} ms, p99 {p99:.0f} ms")
    spent: dict[str, float] = {}
    for name, seconds in cpu_after.items():
        # A backend that connected during the run counts from zero; all backends add up to "postgres".
        key = "postgres" if name.startswith("postgres:") else name
        spent[key] = spent.get(key, 0.0) + seconds - cpu_before.get(name, 0.0)
    per_purchase = ", ".join(
        f"{name} {1000 * seconds / max(1, len(paid_at)):.0f}"
        for name, seconds in sorted(spent.items(), key=lambda item: -item[1])
        if seconds >= 0.05
    )
    print(f"CPU ms per purchase by process (postgres: the run's backends; Redis not counted): {per_purchase}")
    print(f"lost {len(lost)}, duplicated {len(duplicated)}, not active {len(not_active)}")
    try:
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    except OSError:
        pass
    ok = not lost and not duplicated and not not_active and len(rows) == len(paid_at) == args.purchases
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--traders", type=int, default=100)
    parser.add_argument("--webhook-concurrency", type=int, default=4, help="the stand-in's deliveries in flight")
    parser.add_argument("--profile-challenges", metavar="FILE", help="cProfile the challenges service into FILE")
    parser.add_argument(
        "--provisioning-process",
        action="store_true",
        help="run the provisioning worker as its own process, woken by PostgreSQL NOTIFY (ADR 0059)",
    )
    parser.add_argument("--profile-provisioning", metavar="FILE", help="the same, and cProfile that process into FILE")
    args = parser.parse_args()
    from libs.platform.protogen import ensure_generated

    ensure_generated()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
