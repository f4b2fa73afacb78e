"""Alembic environment for the payouts service: its history, its schema only."""

from libs.platform.alembic_env import run

run("payouts")
