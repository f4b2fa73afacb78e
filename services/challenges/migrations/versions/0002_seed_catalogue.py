"""Seed the catalogue: six evaluation tiers, $5K to $200K, version 1 of each.

Defaults (issue 2): Phase 1 target 8%, Phase 2 target 5%, max loss 8%, daily loss 4%, consistency 40%.
The figures are written out here, frozen with this revision: later catalogue changes are new program versions
published through CreateProgramVersion, never edits of this migration.

Revision ID: challenges_0002
Revises: challenges_0001
"""

import json
import uuid
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "challenges_0002"
down_revision = "challenges_0001"
branch_labels = None
depends_on = None

SCHEMA = "challenges"
# (program id, account size, price, max contracts). Prices are the launch price list.
TIERS = [
    ("eval-5k", 5_000, "49.00", "1"),
    ("eval-10k", 10_000, "79.00", "2"),
    ("eval-25k", 25_000, "149.00", "3"),
    ("eval-50k", 50_000, "249.00", "5"),
    ("eval-100k", 100_000, "449.00", "10"),
    ("eval-200k", 200_000, "849.00", "15"),
]
FEES_PER_SIDE = {
    "ES": "2.50",
    "NQ": "2.50",
    "YM": "2.50",
    "RTY": "2.50",
    "CL": "2.50",
    "GC": "2.50",
    "6E": "2.50",
    "ZN": "1.75",
    "ZB": "1.75",
    "MES": "0.75",
    "MNQ": "0.75",
    "MYM": "0.75",
    "M2K": "0.75",
    "MCL": "0.75",
    "MGC": "0.75",
}


def _pct(size: int, pct: str) -> str:
    return str((Decimal(size) * Decimal(pct) / 100).quantize(Decimal("0.01")))


def _rule_set(size: int, contracts: str, *, target_pct: str | None, funded: bool) -> dict:
    return {
        "start_balance": f"{size}.00",
        "day_boundary": {"timezone": "America/Chicago", "eod_snapshot": "16:00", "day_roll": "17:00"},
        "drawdown": {
            "mode": "eod_trailing",
            "max_loss": _pct(size, "8"),
            "lock": {"kind": "start"},
            "floor_to_start_on_payout": funded,
        },
        "daily_loss_limit": {"amount": _pct(size, "4"), "breach": "soft", "steps": []},
        "profit_target": None if target_pct is None else {"amount": _pct(size, target_pct)},
        "min_trading_days": {"count": 5, "counts_if": "any_fill"},
        "consistency": {"max_ratio": "0.40", "compare": "le", "mode": "gate"},
        "max_contracts": {
            "limit": contracts,
            "micro_weight": "0.1",
            "enforcement": "pre_trade_reject",
            "scaling": [],
        },
        "flat_by": {"time": "15:10", "action": "auto_flatten"},
        "news": {"before_seconds": 120, "after_seconds": 120} if funded else None,
        "fees_per_side": FEES_PER_SIDE,
    }


def upgrade() -> None:
    programs = sa.table(
        "programs",
        sa.column("program_id"),
        sa.column("current_version"),
        sa.column("row_version"),
        sa.column("created_at"),
        schema=SCHEMA,
    )
    versions = sa.table(
        "program_versions",
        sa.column("version_id"),
        sa.column("program_id"),
        sa.column("version"),
        sa.column("name"),
        sa.column("currency"),
        sa.column("account_size"),
        sa.column("price"),
        sa.column("profit_split"),
        sa.column("phases", sa.dialects.postgresql.JSONB),
        sa.column("status"),
        sa.column("published_at"),
        schema=SCHEMA,
    )
    now = sa.text("now()")
    for program_id, size, price, contracts in TIERS:
        op.execute(programs.insert().values(program_id=program_id, current_version=1, row_version=1, created_at=now))
        phases = [
            {"kind": "phase_1", "rule_set": _rule_set(size, contracts, target_pct="8", funded=False)},
            {"kind": "phase_2", "rule_set": _rule_set(size, contracts, target_pct="5", funded=False)},
            {"kind": "funded", "rule_set": _rule_set(size, contracts, target_pct=None, funded=True)},
        ]
        op.execute(
            versions.insert().values(
                # Deterministic ids: every environment seeded by this revision names the same versions.
                version_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dynasty-futures/programs/{program_id}/1")),
                program_id=program_id,
                version=1,
                name=f"${size // 1000}K Evaluation",
                currency="USD",
                account_size=Decimal(size),
                price=Decimal(price),
                profit_split=Decimal("0.80"),
                phases=json.loads(json.dumps(phases)),
                status="published",
                published_at=now,
            )
        )


def downgrade() -> None:
    ids = ", ".join(f"'{t[0]}'" for t in TIERS)
    op.execute(f"DELETE FROM {SCHEMA}.program_versions WHERE program_id IN ({ids}) AND version = 1")  # noqa: S608 - ids are this file's constants
    op.execute(f"DELETE FROM {SCHEMA}.programs WHERE program_id IN ({ids}) AND current_version = 1")  # noqa: S608 - ids are this file's constants
