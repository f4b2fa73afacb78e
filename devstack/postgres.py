"""A throwaway PostgreSQL cluster in a project folder, for `make up` and the tests.

It runs the real server binaries: the ones installed on the machine (PATH, then
/usr/lib/postgresql/*/bin), or, where there are none, the ones the pip package
`pgserver` bundles. The cluster listens on 127.0.0.1 only, on a free port chosen at
start, so it never collides with a PostgreSQL already running on 5432.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import psycopg

logger = logging.getLogger(__name__)

DATABASE_NAME = "dynasty"
SUPERUSER = "postgres"
# Linux limits a unix socket path to 107 bytes; past that the server would refuse to start.
_MAX_SOCKET_PATH = 100
_BIND_RETRIES = 5


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster could not be prepared, started or stopped."""


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, kept across starts.

    `durable=False` turns off fsync and full-page writes, which makes tests several
    times faster but can corrupt the cluster on a power cut; `make up` keeps the default.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        bin_dir: Path | None = None,
        start_timeout_seconds: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._requested_port = port
        self._durable = durable
        self._bin_dir = bin_dir
        self._start_timeout_seconds = start_timeout_seconds
        self._port: int | None = None
        self._run_as: str | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL has not been started")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/{DATABASE_NAME}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> str:
        if self._port is not None and self._is_running():
            return self.url
        bin_dir = self._bin_dir or find_postgres_bin_dir()
        self._bin_dir = bin_dir
        self._run_as = _account_to_run_server_as()
        self._initialise_cluster_once()
        self._clear_leftover_server()
        self._start_server()
        self._create_database_if_missing()
        atexit.register(self.stop)
        logger.info("embedded PostgreSQL ready at %s (data in %s)", self.url, self.data_dir)
        return self.url

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self._bin_dir is None or not (self.data_dir / "postmaster.pid").exists():
            self._port = None
            return
        if self._is_running():
            result = self._run([self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"])
            if result.returncode != 0 and self._is_running():
                raise EmbeddedPostgresError(f"pg_ctl stop failed: {result.stdout}{result.stderr}")
        self._port = None

    # -- preparing the cluster ------------------------------------------------------------

    def _initialise_cluster_once(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} is not empty and holds no PostgreSQL cluster; remove it or pick another folder"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_data_dir_to_server_account()
        command = [
            self._tool("initdb"),
            "-D",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
        ]
        if not self._durable:
            command.append("--no-sync")
        result = self._run(command)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}:\n{result.stdout}{result.stderr}")

    def _hand_data_dir_to_server_account(self) -> None:
        if self._run_as is None:
            return
        account = pwd.getpwnam(self._run_as)
        os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        os.chmod(self.data_dir, 0o700)
        probe = subprocess.run(
            ["runuser", "-u", self._run_as, "--", "test", "-w", str(self.data_dir)],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            raise EmbeddedPostgresError(
                f"the '{self._run_as}' account cannot write {self.data_dir}; every parent folder must be "
                "searchable by it (chmod o+x), or set DATABASE_URL to a server you run yourself"
            )

    def _clear_leftover_server(self) -> None:
        """A run that was killed leaves postmaster.pid behind, and maybe a live server.

        A live postmaster that owns this folder is shut down so this start applies its own
        port and durability; a pid file whose process is gone (or is some other program
        that reused the pid, common in containers) is removed so it cannot block the start.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = _pid_from_pid_file(pid_file)
        if pid is not None and _is_postmaster_of(pid, self.data_dir):
            logger.warning("stopping a PostgreSQL left running on %s (pid %s)", self.data_dir, pid)
            self._run([self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"])
            if _is_postmaster_of(pid, self.data_dir):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if pid_file.exists():
            pid_file.unlink()

    # -- running the server ---------------------------------------------------------------

    def _start_server(self) -> None:
        attempts = 1 if self._requested_port is not None else _BIND_RETRIES
        last_error = ""
        for _ in range(attempts):
            port = self._requested_port or _free_port()
            result = self._run(
                [
                    self._tool("pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(self._start_timeout_seconds)),
                    "-o",
                    " ".join(self._server_options(port)),
                ]
            )
            if result.returncode == 0:
                self._port = port
                return
            last_error = f"{result.stdout}{result.stderr}"
            # Another program may have taken the port between choosing and binding it.
            if "could not bind" not in self._log_tail() and "Address already in use" not in self._log_tail():
                break
        raise EmbeddedPostgresError(
            f"PostgreSQL did not start in {self.data_dir}: {last_error.strip()}\n"
            f"--- last lines of {self.log_file} ---\n{self._log_tail()}"
        )

    def _server_options(self, port: int) -> list[str]:
        socket_path = self.data_dir / f".s.PGSQL.{port}"
        # An over-long socket path would stop the server; TCP alone is enough for us then.
        socket_dir = shlex.quote(str(self.data_dir)) if len(str(socket_path)) <= _MAX_SOCKET_PATH else "''"
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-c unix_socket_directories={socket_dir}",
            "-c max_connections=200",
        ]
        if not self._durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return options

    def _create_database_if_missing(self) -> None:
        admin_url = f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/postgres"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if exists is None:
                connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def _is_running(self) -> bool:
        if self._bin_dir is None:
            return False
        result = self._run([self._tool("pg_ctl"), "status", "-D", str(self.data_dir)])
        return result.returncode == 0

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _tool(self, name: str) -> str:
        assert self._bin_dir is not None
        return str(self._bin_dir / name)

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        # pg_ctl's server inherits our stdout unless redirected; -l sends its output to the log.
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=self._start_timeout_seconds + 30,
        )


def find_postgres_bin_dir(
    search_path: str | None = None, system_install_root: Path = Path("/usr/lib/postgresql")
) -> Path:
    """The folder holding initdb and pg_ctl: on PATH, else the newest system install, else `pgserver`'s."""
    on_path = shutil.which("pg_ctl", path=search_path)
    if on_path and shutil.which("initdb", path=search_path):
        return Path(os.path.realpath(on_path)).parent
    installed = sorted(
        system_install_root.glob("*/bin"),
        key=lambda folder: _version_key(folder.parent.name),
        reverse=True,
    )
    for folder in installed:
        if (folder / "pg_ctl").exists() and (folder / "initdb").exists():
            return folder
    # find_spec locates the wheel without importing it (its import pulls in extra packages).
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bundled / "pg_ctl").exists():
            return bundled
    raise EmbeddedPostgresError(
        f"no PostgreSQL binaries found (looked in PATH, {system_install_root}/*/bin and the pip package "
        "pgserver); install PostgreSQL or `pip install pgserver`, or set DATABASE_URL"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _account_to_run_server_as() -> str | None:
    """PostgreSQL refuses to run as root, so root runs it as `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise EmbeddedPostgresError("running as root, but there is no 'postgres' or 'nobody' account to run as")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_from_pid_file(pid_file: Path) -> int | None:
    try:
        first_line = pid_file.read_text().splitlines()[0]
        return int(first_line.strip())
    except (OSError, IndexError, ValueError):
        return None


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not command_line or not command_line[0].endswith(b"postgres"):
        return False
    try:
        return Path(f"/proc/{pid}/cwd").resolve() == data_dir.resolve() or str(data_dir).encode() in command_line
    except OSError:
        return str(data_dir).encode() in command_line
