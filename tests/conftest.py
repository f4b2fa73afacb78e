"""Test-wide fixtures and settings.

PostgreSQL and Redis are real: DATABASE_URL / REDIS_URL when set, else embedded servers the devstack starts in
.data/test (kept between runs, fsync off). Migrations run once per session. Tests use random ids so they can share
the database. Hypothesis profiles: `default` keeps `make test` quick, `long` (HYPOTHESIS_PROFILE=long) digs deeper.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile("long", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_DATA_DIR = REPO_ROOT / ".data" / "test"


def pytest_configure(config: pytest.Config) -> None:
    from libs.platform.protogen import ensure_generated

    ensure_generated()


@pytest.fixture(scope="session")
def database_url() -> str:
    from devstack import resolve
    from libs.platform.migrate import SERVICES, upgrade

    url, stop = resolve.database_url(TEST_DATA_DIR, durable=False)
    for service in SERVICES:
        upgrade(service, url)
    yield url
    if stop is not None:
        stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    from devstack import resolve

    url, stop = resolve.redis_url(TEST_DATA_DIR, durable=False)
    yield url
    if stop is not None:
        stop()


@pytest.fixture
async def redis(redis_url):
    """A Redis client on the test server, answering str (a folder's conftest may define its own)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def unique() -> str:
    """A short random suffix for ids, so tests never collide in the shared database."""
    return uuid.uuid4().hex[:10]
