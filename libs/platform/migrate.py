"""Apply a service's Alembic migrations to its own schema: `python -m libs.platform.migrate <service>|all`.

Each service keeps its own history in services/<name>/migrations with its version table inside its schema, so no
service's migrations can touch another's tables. Uses the sync psycopg driver (Alembic is synchronous).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from libs.platform.db import sync_url

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "challenges", "rules", "payouts")


def alembic_config(service: str, database_url: str) -> Config:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    cfg.attributes["schema"] = service
    return cfg


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(service, database_url), revision)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m libs.platform.migrate <service>|all", file=sys.stderr)
        return 2
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    for service in SERVICES if args[0] == "all" else args:
        upgrade(service, url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
