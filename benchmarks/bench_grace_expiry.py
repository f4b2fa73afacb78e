"""A renewal day's failed payments: N monthly accounts whose grace period ran out, suspended by the billing job.

    DATABASE_URL=postgresql://... PYTHONPATH=.:gen/python python benchmarks/bench_grace_expiry.py [--accounts 2000]

Creates a throwaway database on DATABASE_URL's server, migrates the challenges schema to head, inserts N paid
monthly orders with their accounts in phase_1 and `grace_until` a minute ago (SQL, not timed), then times the
service's EnforceSubscriptionBilling passes (each expiry its own transaction with the row locked, a few at a time)
until no deadline is due. Checks every account is suspended for non-payment and announced to the rules service
(one AccountStatusChanged in the outbox each). Drops the database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from libs.domain.clock import FixedClock
from libs.platform.db import create_engine, session_factory
from libs.platform.migrate import upgrade
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
from services.challenges.application.enforce_subscription_billing import EnforceSubscriptionBilling
from services.challenges.main import EVENT_ROUTES

ORDERS = """
INSERT INTO challenges.orders (order_id, user_id, user_email, program_id, program_version_id, program_version,
  currency, price, status, duplicate_payments, kind, billing, subscription_id, row_version, created_at, updated_at)
SELECT gen_random_uuid(), 'bench', 'bench@example.test', v.program_id, v.version_id, 1, 'USD', v.price, 'paid',
  '[]'::jsonb, 'purchase', 'monthly', 'sub_bench_' || g, 1, now(), now()
FROM generate_series(1, :n) g, challenges.program_versions v WHERE v.program_id = 'eval-monthly-50k'
"""
ACCOUNTS = """
INSERT INTO challenges.trading_accounts (account_id, order_id, user_id, user_email, program_id, program_version_id,
  program_version, phases, status, platform_user_id, platform_account_id, platform_login, billing, subscription_id,
  subscription_status, paid_through, grace_until, row_version, created_at, updated_at)
SELECT gen_random_uuid(), o.order_id, o.user_id, o.user_email, o.program_id, o.program_version_id, 1, v.phases,
  'phase_1', 'pu', 'pa', 'pl', 'monthly', o.subscription_id, 'past_due', now(), now() - interval '1 minute', 2,
  now(), now()
FROM challenges.orders o JOIN challenges.program_versions v ON v.version_id = o.program_version_id
"""


async def run(url: str, accounts: int) -> None:
    engine = create_engine(url, "challenges", pool_size=6)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(ORDERS), {"n": accounts})
            await conn.execute(text(ACCOUNTS))
        clock = FixedClock(datetime.now(UTC))
        sessions = session_factory(engine)

        def uow() -> SqlAlchemyChallengesUnitOfWork:
            return SqlAlchemyChallengesUnitOfWork(
                sessions, schema="challenges", source="challenges", clock=clock, routes=EVENT_ROUTES
            )

        job = EnforceSubscriptionBilling(uow, payments=None, clock=clock)  # no Stripe call in grace expiry
        started, suspended, passes = time.perf_counter(), 0, 0
        while True:
            done = await job.run_once()
            passes += 1
            suspended += done["suspended"]
            if done["due"] == 0:
                break
        took = time.perf_counter() - started
        async with engine.connect() as conn:
            in_db = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM challenges.trading_accounts "
                        "WHERE status = 'suspended' AND suspension_reason = 'non_payment'"
                    )
                )
            ).scalar()
            announced = (
                await conn.execute(
                    text("SELECT count(*) FROM challenges.outbox WHERE event_type = 'AccountStatusChanged'")
                )
            ).scalar()
        print(
            f"{accounts} accounts past grace: {suspended} suspended in {took:.2f} s over {passes} passes "
            f"({suspended / took:.0f}/s); in the database {in_db} suspended for non_payment, {announced} announced"
        )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    args = parser.parse_args()
    server = os.environ["DATABASE_URL"]
    name = f"bench_grace_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server.partition('?')[0].rpartition('/')[0]}/{name}"
    try:
        upgrade("challenges", url)
        asyncio.run(run(url, args.accounts))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
