"""The whole system as `make up` starts it, one per test module, each on its own database.

A module's own database means identity's signing keys and users start empty, so nothing another test left behind
(a key sealed under another master key, another test's programs) decides the journey under test. Every port is a
free one (Stack fills in what is not given), so the e2e tests never collide with a running `make up`.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from devstack.stack import Stack


@pytest.fixture(scope="module")
def own_database_url(database_url, request):
    name = f"e2e_{request.module.__name__.rsplit('.', 1)[-1]}_{uuid.uuid4().hex[:8]}"[:63]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _old = database_url.partition("?")[0].rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stack(own_database_url, redis_url, request):
    running = Stack(
        data_dir=Path(tempfile.mkdtemp(prefix=f"dynasty-{request.module.__name__.rsplit('.', 1)[-1]}-")),
        ports={},
        database_url=own_database_url,
        redis_url=redis_url,
        log=lambda m: None,
    )
    running.start(timeout=90)
    yield running
    running.stop()
