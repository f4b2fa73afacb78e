"""Login latency at 20 concurrent logins, and what each argon2id parameter set costs to hash on this machine.

    PYTHONPATH=.:gen/python python benchmarks/bench_identity_login.py [--rounds N] [--concurrency C]

Part 1 hashes one password with several argon2id parameter sets (median of a few runs each) and prints
``argon2id_hash_ms{t=..,m=..,p=..}``. Part 2 runs the real Login use case (argon2 verify in a worker thread, the
throttle check in Redis, the session, refresh token, login event, device and audit rows in PostgreSQL, the ES256
access token) with the production parameters from IdentitySettings, `--concurrency` logins at a time for
`--rounds` rounds, and prints p50/p99/max and ``identity_login_p99_ms``. DATABASE_URL / REDIS_URL if set, else the
devstack's embedded servers in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from argon2 import PasswordHasher, Type

from devstack import resolve
from libs.domain.clock import SystemClock
from libs.platform.db import create_engine, session_factory
from libs.platform.migrate import upgrade
from libs.platform.redis import create_redis
from libs.platform.settings import IdentitySettings
from services.identity.application.common import ClientInfo
from services.identity.application.login import Login
from services.identity.application.register import Register
from services.identity.application.verify_email import VerifyEmail

PARAMETER_SETS = [  # (time_cost, memory_kib, parallelism, where it comes from)
    (2, 19456, 1, "OWASP minimum; our default"),
    (3, 65536, 4, "RFC 9106 second recommendation"),
    (4, 65536, 4, "one more pass"),
    (3, 131072, 4, "twice the memory"),
]
PASSWORD = "benchmark passphrase that is long enough"


def hash_costs(repeats: int) -> None:
    for time_cost, memory, lanes, origin in PARAMETER_SETS:
        hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory, parallelism=lanes, type=Type.ID)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            hasher.hash(PASSWORD)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"argon2id_hash_ms{{t={time_cost},m={memory},p={lanes}}} {statistics.median(timings):.1f}  ({origin})",
            flush=True,
        )


async def login_latency(database_url: str, redis_url: str, rounds: int, concurrency: int, mail: Path) -> list[float]:
    from services.identity.main import build_identity

    settings = IdentitySettings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        identity_master_key_file=str(mail.parent / "master.key"),
        identity_mail_dir=str(mail),
    )
    engine = create_engine(database_url, "identity", pool_size=concurrency)
    redis = create_redis(redis_url)
    identity = build_identity(settings, session_factory(engine), SystemClock(), redis)
    emails = [f"bench-{uuid.uuid4().hex[:8]}-{i}@example.com" for i in range(concurrency)]
    from libs.platform.mailbox import read_mailbox

    for email in emails:
        await identity.use_cases.register(Register(email, PASSWORD, ClientInfo(ip="127.0.0.1")))
        body = read_mailbox(mail, to=email)[-1].get_content()
        await identity.use_cases.verify_email(VerifyEmail(body.split("paste this code in the app: ")[1].split()[0]))

    async def one(email: str, n: int) -> float:
        started = time.perf_counter()
        result = await identity.use_cases.login(
            Login(email, PASSWORD, ClientInfo(ip=f"127.0.{n % 250}.{n % 200 + 1}", user_agent="bench"))
        )
        assert result.session is not None
        return (time.perf_counter() - started) * 1000

    await asyncio.gather(*(one(e, i) for i, e in enumerate(emails)))  # warm up: pool, signing key, caches
    latencies: list[float] = []
    for round_number in range(rounds):
        latencies += await asyncio.gather(*(one(e, round_number * concurrency + i) for i, e in enumerate(emails)))
    await redis.aclose()
    await engine.dispose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--hash-repeats", type=int, default=5)
    args = parser.parse_args()

    from libs.platform.protogen import ensure_generated

    ensure_generated()
    hash_costs(args.hash_repeats)
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as folder:
        data = Path(folder)
        data.chmod(0o755)  # the embedded PostgreSQL runs as the 'postgres' account and must reach its folder
        database_url, stop_db = resolve.database_url(data, durable=False)
        redis_url, stop_redis = resolve.redis_url(data, durable=False)
        try:
            upgrade("identity", database_url)
            latencies = asyncio.run(
                login_latency(database_url, redis_url, args.rounds, args.concurrency, data / "mail")
            )
        finally:
            for stop in (stop_redis, stop_db):
                if stop is not None:
                    stop()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    load = os.getloadavg()[0]
    print(
        f"logins={len(ordered)} concurrency={args.concurrency} p50={statistics.median(ordered):.0f}ms "
        f"p99={p99:.0f}ms max={ordered[-1]:.0f}ms load1={load:.2f}"
    )
    print(f"identity_login_p99_ms {p99:.0f}")


if __name__ == "__main__":
    main()
