"""Alembic environment for the rules service: its history, its schema only."""

from libs.platform.alembic_env import run

run("rules")
