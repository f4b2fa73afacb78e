"""Which PostgreSQL and Redis `make up` and the tests use: the ones the environment names, else embedded ones.

`data_dir` is the devstack's data root (e.g. `<repo>/.data`); the embedded servers keep
their files in its `postgres/` and `redis/` folders. The returned stopper is None when the
server belongs to someone else (DATABASE_URL / REDIS_URL), so callers never stop it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from devstack.postgres import EmbeddedPostgres
from devstack.redis import EmbeddedRedis

Stopper = Callable[[], None]


def database_url(data_dir: Path, *, durable: bool = True) -> tuple[str, Stopper | None]:
    configured = os.environ.get("DATABASE_URL", "").strip()
    if configured:
        return configured, None
    server = EmbeddedPostgres(Path(data_dir) / "postgres", durable=durable)
    return server.start(), server.stop


def redis_url(data_dir: Path, *, durable: bool = True) -> tuple[str, Stopper | None]:
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        return configured, None
    server = EmbeddedRedis(Path(data_dir) / "redis", durable=durable)
    return server.start(), server.stop
