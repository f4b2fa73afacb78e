"""Clients and test users, from a JSON file or the defaults the devstack uses.

{"clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."], "flavor": "google"}],
 "users": [{"email": "...", "name": "...", "email_verified": true, "sub": "..."}],
 "auto_create_users": true}
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAVORS = ("google", "apple", "devstack")
DEFAULT_GATEWAYS = ("http://127.0.0.1:8080", "http://localhost:8080")


def gateway_callbacks(gateways: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(
        f"{gateway.rstrip('/')}/v1/auth/oauth/{provider}/callback" for gateway in gateways for provider in FLAVORS
    )


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str | None = None  # None: a public client, PKCE alone authenticates the exchange
    flavor: str = "devstack"


@dataclass(frozen=True)
class User:
    sub: str
    email: str
    name: str
    email_verified: bool = True


@dataclass
class ProviderConfig:
    clients: dict[str, Client]
    users: dict[str, User]
    auto_create_users: bool = True
    code_ttl_seconds: int = 60
    token_ttl_seconds: int = 3600
    extra: dict[str, Any] = field(default_factory=dict)

    def user_for(self, email: str) -> User | None:
        known = self.users.get(email.lower())
        if known is not None or not self.auto_create_users or "@" not in email:
            return known
        # Google's subjects are stable numeric strings; derive one from the address so logins repeat the same sub.
        sub = str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:16], 16))
        user = User(sub=sub, email=email.lower(), name=email.split("@", 1)[0])
        self.users[user.email] = user
        return user


def default_config(gateways: tuple[str, ...] | list[str] = DEFAULT_GATEWAYS) -> ProviderConfig:
    """Three clients, one per provider config of the identity service, redirecting to the gateway's callbacks."""
    clients = {
        f"dynasty-{flavor}": Client(
            client_id=f"dynasty-{flavor}",
            client_secret=f"devstack-{flavor}-secret",
            redirect_uris=gateway_callbacks(gateways),
            flavor=flavor,
        )
        for flavor in FLAVORS
    }
    users = {
        u.email: u
        for u in (
            User(sub="100000000000000000001", email="trader@dynasty.test", name="Terry Trader"),
            User(sub="100000000000000000002", email="support@dynasty.test", name="Sam Support"),
            User(sub="100000000000000000003", email="admin@dynasty.test", name="Ada Admin"),
            User(
                sub="100000000000000000004", email="unverified@dynasty.test", name="Una Verified", email_verified=False
            ),
        )
    }
    return ProviderConfig(clients=clients, users=users)


def load_config(path: Path | None, gateways: tuple[str, ...] | list[str] = DEFAULT_GATEWAYS) -> ProviderConfig:
    if path is None:
        return default_config(gateways)
    raw = json.loads(path.read_text())
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> ProviderConfig:
    clients = {}
    for c in raw.get("clients", []):
        flavor = c.get("flavor", "devstack")
        if flavor not in FLAVORS:
            raise ValueError(f"client {c['client_id']}: flavor must be one of {FLAVORS}")
        clients[c["client_id"]] = Client(
            client_id=c["client_id"],
            redirect_uris=tuple(c["redirect_uris"]),
            client_secret=c.get("client_secret"),
            flavor=flavor,
        )
    users = {}
    for u in raw.get("users", []):
        email = u["email"].lower()
        sub = u.get("sub") or str(int(hashlib.sha256(email.encode()).hexdigest()[:16], 16))
        users[email] = User(
            sub=sub, email=email, name=u.get("name", email), email_verified=u.get("email_verified", True)
        )
    return ProviderConfig(
        clients=clients,
        users=users,
        auto_create_users=raw.get("auto_create_users", True),
        code_ttl_seconds=int(raw.get("code_ttl_seconds", 60)),
        token_ttl_seconds=int(raw.get("token_ttl_seconds", 3600)),
    )
