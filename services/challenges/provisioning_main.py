"""The provisioning worker as a process of its own: `python -m services.challenges.provisioning_main`.

The same composition as the service (services/challenges/main.py builds the worker with its platform client, mailer
and notifier), without the gRPC server: the paying transaction's NOTIFY wakes it (PostgresJobNotifications), the
poll catches retries. Run it where provisioning must not share a process (and its CPU) with the webhooks, with
DYNASTY_CHALLENGES_PROVISIONING_IN_PROCESS=false on the service; any number can run, the jobs' SKIP LOCKED leases
share the work (ADR 0059).
"""

from __future__ import annotations

import asyncio
import signal
import sys

SERVICE = "challenges"


async def _run() -> None:
    from libs.domain.clock import SystemClock
    from libs.platform.db import create_engine, session_factory
    from libs.platform.redis import create_redis
    from libs.platform.service_main import MissingSetting, Runtime, require_redis_url
    from services.challenges.adapters.job_notifications import PostgresJobNotifications
    from services.challenges.main import Background, build_wire
    from services.challenges.settings import ChallengesSettings

    settings = ChallengesSettings()
    try:
        redis_url = require_redis_url(settings)
    except MissingSetting as exc:
        print(f"challenges provisioning: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    engine = create_engine(settings.database_url, SERVICE, pool_size=settings.challenges_provisioning_concurrency)
    redis = create_redis(redis_url)
    runtime = Runtime(
        settings=settings, engine=engine, sessions=session_factory(engine), clock=SystemClock(), redis=redis
    )
    background = Background()
    build_wire(None, background, settings)(runtime)  # builds the worker exactly as the service does
    worker = background.worker
    listener = PostgresJobNotifications(settings.database_url, worker.wake)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(listener.run())]
    try:
        await stopping.wait()
    finally:
        listener.stop()
        worker.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for close in background.closers:
            await close()
        await redis.aclose()
        await engine.dispose()


def main() -> None:
    from libs.platform.logging import configure_logging
    from libs.platform.protogen import ensure_generated
    from services.challenges.settings import ChallengesSettings

    ensure_generated()
    configure_logging(f"{SERVICE}-provisioning", ChallengesSettings().log_level)
    asyncio.run(_run())


if __name__ == "__main__":
    main()
