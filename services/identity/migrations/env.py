"""Alembic environment for the identity service: its history, its schema only."""

from libs.platform.alembic_env import run

run("identity")
