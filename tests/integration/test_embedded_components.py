"""The devstack's embedded PostgreSQL and Redis: real servers, started in a temporary folder."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from devstack import resolve
from devstack.postgres import EmbeddedPostgres, EmbeddedPostgresError, find_postgres_bin_dir
from devstack.redis import EmbeddedRedis, EmbeddedRedisError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def short_tmp_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root the server runs as `postgres`, which cannot enter pytest's
    # private (0700) folders; and the unix socket in the data folder needs a short path.
    folder = Path(tempfile.mkdtemp(prefix="dynasty-emb-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _query_one(url: str, sql: str) -> object:
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_postgres_starts_in_an_empty_folder_and_keeps_data_across_restarts(short_tmp_dir: Path) -> None:
    server = EmbeddedPostgres(short_tmp_dir / "postgres", durable=False)
    url = server.start()
    try:
        assert url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/dynasty")
        assert server.start() == url, "a second start of a running server returns the same server"
        assert _query_one(url, "SELECT current_database()") == "dynasty"
        assert _query_one(url, "SHOW listen_addresses") == "127.0.0.1"
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE kept (note text)")
            connection.execute("INSERT INTO kept VALUES ('survives a restart')")
    finally:
        server.stop()
    server.stop()  # stopping twice is harmless
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)

    restarted_url = server.start()
    try:
        assert _query_one(restarted_url, "SELECT note FROM kept") == "survives a restart"
    finally:
        server.stop()


def test_postgres_is_durable_unless_asked_otherwise(short_tmp_dir: Path) -> None:
    server = EmbeddedPostgres(short_tmp_dir / "postgres")
    url = server.start()
    try:
        assert _query_one(url, "SHOW fsync") == "on"
        assert _query_one(url, "SHOW full_page_writes") == "on"
    finally:
        server.stop()
    fast = EmbeddedPostgres(short_tmp_dir / "postgres", durable=False)
    try:
        assert _query_one(fast.start(), "SHOW fsync") == "off"
    finally:
        fast.stop()


def test_postgres_recovers_from_a_killed_run_that_left_its_server_and_pid_file(short_tmp_dir: Path) -> None:
    data_dir = short_tmp_dir / "postgres"
    # A separate interpreter starts the server and is then killed, as a crashed `make up` would be.
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from devstack.postgres import EmbeddedPostgres
        print(EmbeddedPostgres(Path({str(data_dir)!r}), durable=False).start(), flush=True)
        os.kill(os.getpid(), {int(signal.SIGKILL)})
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    orphan_url = killed.stdout.strip()
    assert _query_one(orphan_url, "SELECT 1") == 1, "the killed run's server outlived it"
    assert (data_dir / "postmaster.pid").exists()

    server = EmbeddedPostgres(data_dir, durable=False)
    url = server.start()
    try:
        assert _query_one(url, "SELECT 1") == 1
    finally:
        server.stop()
    assert not (data_dir / "postmaster.pid").exists()


def test_postgres_ignores_a_pid_file_naming_a_process_that_is_not_its_server(short_tmp_dir: Path) -> None:
    data_dir = short_tmp_dir / "postgres"
    server = EmbeddedPostgres(data_dir, durable=False)
    server.start()
    server.stop()
    # After a crash and a container restart the old pid often belongs to another program.
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n")
    try:
        assert _query_one(server.start(), "SELECT 1") == 1
    finally:
        server.stop()


def test_postgres_uses_the_port_it_is_given(short_tmp_dir: Path) -> None:
    server = EmbeddedPostgres(short_tmp_dir / "postgres", port=_free_port(), durable=False)
    url = server.start()
    try:
        assert url.endswith(f":{server._requested_port}/dynasty")
        assert _query_one(url, "SHOW port") == str(server._requested_port)
    finally:
        server.stop()


def test_postgres_refuses_a_folder_that_holds_something_else(short_tmp_dir: Path) -> None:
    data_dir = short_tmp_dir / "not-a-cluster"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError, match="not empty"):
        EmbeddedPostgres(data_dir).start()
    assert (data_dir / "notes.txt").read_text() == "mine"


def test_postgres_start_failure_explains_itself_with_the_server_log(short_tmp_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedPostgres(short_tmp_dir / "postgres", port=taken.getsockname()[1], durable=False)
        with pytest.raises(EmbeddedPostgresError) as failure:
            server.start()
    message = str(failure.value)
    assert "did not start" in message
    assert "server.log" in message and "could not" in message, "the server log's own words are included"


def test_postgres_binaries_come_from_path_then_the_newest_system_install(tmp_path: Path) -> None:
    def install(folder: Path) -> Path:
        folder.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl"):
            (folder / tool).write_text("#!/bin/sh\n")
            (folder / tool).chmod(0o755)
        return folder

    on_path = install(tmp_path / "on-path")
    system_root = tmp_path / "lib" / "postgresql"
    install(system_root / "9.6" / "bin")
    newest = install(system_root / "16" / "bin")
    install(system_root / "15" / "bin")

    assert find_postgres_bin_dir(str(on_path), system_root) == on_path
    assert find_postgres_bin_dir(str(tmp_path / "empty"), system_root) == newest

    nowhere = tmp_path / "nowhere"
    if importlib.util.find_spec("pgserver") is None:
        with pytest.raises(EmbeddedPostgresError, match="pgserver"):
            find_postgres_bin_dir(str(nowhere), nowhere)
    else:
        assert find_postgres_bin_dir(str(nowhere), nowhere).parts[-3:] == ("pgserver", "pginstall", "bin")


def test_redis_starts_and_keeps_data_across_restarts(short_tmp_dir: Path) -> None:
    server = EmbeddedRedis(short_tmp_dir / "redis")
    url = server.start()
    try:
        assert url.startswith("redis://127.0.0.1:") and url.endswith("/0")
        assert not url.startswith("redis://127.0.0.1:6379/"), "must not be the machine's own Redis"
        assert server.start() == url
        client = redis.Redis.from_url(url)
        client.set("kept", "across restarts")
        client.close()
    finally:
        server.stop()
    server.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()

    restarted = redis.Redis.from_url(server.start())
    try:
        assert restarted.get("kept") == b"across restarts"
    finally:
        restarted.close()
        server.stop()


def test_redis_start_failure_explains_itself_with_the_server_log(short_tmp_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedRedis(short_tmp_dir / "redis", port=taken.getsockname()[1])
        with pytest.raises(EmbeddedRedisError, match="did not start") as failure:
            server.start()
    assert "redis.log" in str(failure.value) and "Address already in use" in str(failure.value)


def test_redis_dies_with_the_process_that_started_it(short_tmp_dir: Path) -> None:
    data_dir = short_tmp_dir / "redis"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from devstack.redis import EmbeddedRedis
        server = EmbeddedRedis(Path({str(data_dir)!r}))
        server.start()
        print(server.url, flush=True)
        os.kill(os.getpid(), {int(signal.SIGKILL)})
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    orphan = redis.Redis.from_url(killed.stdout.strip(), socket_connect_timeout=1)
    assert _stops_answering(orphan, within_seconds=5), "Redis outlived the process that started it"


def test_resolve_prefers_the_urls_the_environment_names(short_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5432/dynasty")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.internal:6380/0")
    assert resolve.database_url(short_tmp_dir) == ("postgresql://app@db.internal:5432/dynasty", None)
    assert resolve.redis_url(short_tmp_dir) == ("rediss://cache.internal:6380/0", None)
    assert list(short_tmp_dir.iterdir()) == [], "nothing embedded is started when the environment names servers"


def test_resolve_starts_embedded_servers_when_the_environment_names_none(
    short_tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "")
    database, stop_database = resolve.database_url(short_tmp_dir, durable=False)
    try:
        assert stop_database is not None
        assert (short_tmp_dir / "postgres" / "PG_VERSION").exists()
        assert _query_one(database, "SELECT current_database()") == "dynasty"
    finally:
        if stop_database is not None:
            stop_database()
    cache, stop_cache = resolve.redis_url(short_tmp_dir)
    try:
        assert stop_cache is not None
        assert redis.Redis.from_url(cache).ping() is True
    finally:
        if stop_cache is not None:
            stop_cache()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(cache, socket_connect_timeout=1).ping()


def _stops_answering(client: redis.Redis, within_seconds: float) -> bool:
    # The kernel sends SIGTERM when the parent dies; the server needs a moment to exit.
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            client.ping()
        except redis.ConnectionError:
            return True
        time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
