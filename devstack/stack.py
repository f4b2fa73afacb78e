"""The whole system on one machine: PostgreSQL, Redis, migrations, the four services and the gateway as processes.

`make up` (devstack/up.py) and the e2e tests use this same class, so the tests start the system exactly as a
developer does. Children are started in their own process group with a parent-death signal, so nothing outlives
the supervisor, even when it is killed hard.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("identity", "challenges", "rules", "payouts")
DEFAULT_PORTS = {
    "identity": 50051,
    "challenges": 50052,
    "rules": 50053,
    "payouts": 50054,
    "gateway": 8080,
    "stripe": 12111,  # the Stripe stand-in (DESIGN.md)
    "oidc": 8095,  # the local OpenID Connect provider standing in for Google and Apple sign-in
    "ypf": 8090,  # the YourPropFirm trading-platform simulator (DESIGN.md)
}
# Secrets of the stand-ins: development-only constants, never used outside the devstack.
STRIPE_API_KEY = "sk_test_devstack"
STRIPE_WEBHOOK_SECRET = "whsec_devstack"
YPF_CLIENT_KEY = "ypf_devstack_client_key"
YPF_WEBHOOK_SECRET = "ypf_devstack_webhook_secret"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: Ctrl-C handling still stops the children


@dataclass
class Stack:
    data_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    database_url: str | None = None  # None: DATABASE_URL or the embedded server
    redis_url: str | None = None
    durable: bool = True
    ypf_tick_rate: float = 0.0  # quote batches per second from the simulator's random walk (make up turns it on)
    log: Callable[[str], None] = print
    _processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def __post_init__(self) -> None:
        # A caller that picks some ports (the e2e tests) gets free ones for the rest, never a clash with `make up`.
        for name in DEFAULT_PORTS:
            self.ports.setdefault(name, free_port())

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['stripe']}"

    @property
    def oidc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['oidc']}"

    @property
    def ypf_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ypf']}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def target(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    # -- start --------------------------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        from devstack import resolve
        from libs.platform.protogen import ensure_generated

        ensure_generated()
        # Before touching the data folder: a second `make up` must not disturb the first one's servers.
        self._check_ports_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.database_url is None:
            self.database_url, stop = resolve.database_url(self.data_dir, durable=self.durable)
            if stop:
                self._stoppers.append(stop)
        if self.redis_url is None:
            self.redis_url, stop = resolve.redis_url(self.data_dir, durable=self.durable)
            if stop:
                self._stoppers.append(stop)
        self._migrate()
        self._start_standins()
        for service in SERVICES:
            self._spawn(service, [sys.executable, "-m", f"services.{service}.main"])
        self._spawn("gateway", [sys.executable, "-m", "gateway.main"])
        self.wait_ready(timeout)

    def _start_standins(self) -> None:
        """The outside SaaS we cannot reach from here, speaking their wire formats (DESIGN.md)."""
        self._spawn(
            "stripe",
            [
                sys.executable, "-m", "devstack.stripe_standin",
                "--port", str(self.ports["stripe"]),
                "--webhook-url", f"{self.gateway_url}/v1/webhooks/stripe",
                "--webhook-secret", STRIPE_WEBHOOK_SECRET,
                "--data-dir", str(self.data_dir / "stripe_standin"),
            ],
        )  # fmt: skip
        self._spawn(
            "oidc",
            [
                sys.executable, "-m", "devstack.oidc_provider",
                "--port", str(self.ports["oidc"]),
                "--issuer", self.oidc_url,
                "--gateway-url", self.gateway_url,
                "--data-dir", str(self.data_dir / "oidc_provider"),
            ],
        )  # fmt: skip
        self._spawn(
            "ypf",
            [
                sys.executable, "-m", "devstack.ypf_simulator",
                "--port", str(self.ports["ypf"]),
                "--client-key", YPF_CLIENT_KEY,
                "--webhook-url", f"{self.gateway_url}/v1/webhooks/yourpropfirm",
                "--webhook-secret", YPF_WEBHOOK_SECRET,
                "--tick-rate", str(self.ypf_tick_rate),
                "--data-dir", str(self.data_dir / "ypf_simulator"),
            ],
        )  # fmt: skip
        for name, url in (("stripe", self.stripe_url), ("oidc", self.oidc_url), ("ypf", self.ypf_url)):
            self._wait_http(name, url + "/healthz", timeout=30)

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self._processes[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode} while starting:\n{self.log_tail(name)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback URL we built
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f}s:\n{self.log_tail(name)}")

    def _env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DYNASTY_")}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "gen" / "python")]),
                "PYTHONUNBUFFERED": "1",
                "DATABASE_URL": self.database_url or "",
                "REDIS_URL": self.redis_url or "",
                "DYNASTY_GATEWAY_PORT": str(self.ports["gateway"]),
                **{f"DYNASTY_{s.upper()}_TARGET": self.target(s) for s in SERVICES},
            }
        )
        if name in SERVICES:
            env["DYNASTY_GRPC_PORT"] = str(self.ports[name])
        env["DYNASTY_IDENTITY_MAIL_DIR"] = str(self.mail_dir)
        env["DYNASTY_IDENTITY_PUBLIC_BASE_URL"] = self.gateway_url
        # The outside services' addresses and dev credentials: production reads the same settings from Secrets Manager.
        env["DYNASTY_STRIPE_API_BASE"] = self.stripe_url
        env["DYNASTY_STRIPE_API_KEY"] = STRIPE_API_KEY
        env["DYNASTY_STRIPE_WEBHOOK_SECRET"] = STRIPE_WEBHOOK_SECRET
        env["DYNASTY_OIDC_ISSUER_OVERRIDE"] = self.oidc_url
        env["DYNASTY_YOURPROPFIRM_API_BASE"] = self.ypf_url
        env["DYNASTY_YOURPROPFIRM_API_KEY"] = YPF_CLIENT_KEY
        env["DYNASTY_YOURPROPFIRM_WEBHOOK_SECRET"] = YPF_WEBHOOK_SECRET
        return env

    @property
    def mail_dir(self) -> Path:
        """Where identity drops outgoing mail as .eml files (SES in production)."""
        return self.data_dir / "mail"

    def identity_settings(self) -> dict[str, str]:
        """The settings identity runs with here, for code that acts on its data directly (the demo seed)."""
        return {
            "DATABASE_URL": self.database_url or "",
            "REDIS_URL": self.redis_url or "",
            "identity_mail_dir": str(self.mail_dir),
            "identity_public_base_url": self.gateway_url,
        }

    def _check_ports_free(self) -> None:
        for name, port in self.ports.items():
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(
                        f"port {port} for {name} is already in use: is another `make up` running? "
                        f"Stop it, or set other ports."
                    )

    def _migrate(self) -> None:
        self.log("migrating schemas: " + ", ".join(SERVICES))
        result = subprocess.run(
            [sys.executable, "-m", "libs.platform.migrate", "all"],
            env=self._env("migrate"),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")

    def _spawn(self, name: str, command: list[str]) -> None:
        log_file = (self.log_dir / f"{name}.log").open("ab")
        self._processes[name] = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self._env(name),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the supervisor only; it stops the children
            preexec_fn=_die_with_parent,
        )
        log_file.close()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "nothing yet"
        while time.monotonic() < deadline:
            for name, proc in self._processes.items():
                if proc.poll() is not None:
                    tail = self.log_tail(name)
                    raise RuntimeError(f"{name} exited with code {proc.returncode} while starting:\n{tail}")
            try:
                with urllib.request.urlopen(self.gateway_url + "/readyz", timeout=2) as reply:  # noqa: S310
                    if reply.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = exc.read().decode(errors="replace")
            except OSError as exc:
                last = str(exc)
            time.sleep(0.25)
        raise RuntimeError(f"the stack was not ready within {timeout:.0f}s; last /readyz answer: {last}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # -- stop ---------------------------------------------------------------------------------------------------
    def stop(self, grace: float = 10.0) -> None:
        for proc in self._processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self._processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._processes.clear()
        for stop in reversed(self._stoppers):
            stop()
        self._stoppers.clear()

    def describe(self) -> str:
        rows = [
            ("gateway (REST)", self.gateway_url + "/v1/programs"),
            ("API docs", self.gateway_url + "/docs  (OpenAPI: /openapi.json)"),
            ("health", self.gateway_url + "/healthz  ·  " + self.gateway_url + "/readyz"),
            *((f"{s} (gRPC)", self.target(s)) for s in SERVICES),
            ("PostgreSQL", _redact(self.database_url or "")),
            ("Redis", _redact(self.redis_url or "")),
            ("logs", f"{self.log_dir}/<name>.log  (JSON lines)"),
            ("mail", f"{self.mail_dir}/*.eml  (what identity would send through SES)"),
            ("Stripe stand-in", f"{self.stripe_url}  (key {STRIPE_API_KEY}, webhooks to /v1/webhooks/stripe)"),
            ("OIDC provider", f"{self.oidc_url}  (stands in for Google and Apple sign-in)"),
            ("YourPropFirm sim", f"{self.ypf_url}  (X-Client-Key {YPF_CLIENT_KEY}; controls under /_sim/)"),
            ("CLI", ".venv/bin/dynasty challenges list-programs"),
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"  {name.ljust(width)}  {where}" for name, where in rows)

    def status(self) -> dict[str, str]:
        return {n: ("running" if p.poll() is None else f"exited {p.returncode}") for n, p in self._processes.items()}


def _redact(url: str) -> str:
    """Never print a password that came in through DATABASE_URL / REDIS_URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


def dump(stack: Stack) -> str:
    return json.dumps(stack.status())
