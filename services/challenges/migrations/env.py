"""Alembic environment for the challenges service: its history, its schema only."""

from libs.platform.alembic_env import run

run("challenges")
