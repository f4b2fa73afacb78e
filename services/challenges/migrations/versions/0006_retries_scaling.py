"""Resets, free retries and scaling as program terms (ADR 0054): the reset fee, the free retries and the scaling plan
on program versions, snapshotted on accounts; the payouts counted per funded account and the scale steps taken.

Data: every existing version keeps the reset fee it was selling resets at (the 40% placeholder of its price), with no
free retry and no scaling plan, and every existing account snapshots that. The six seeded tiers and the three monthly
ones of migration 0005 then get real terms
the only way a published version changes: a version 2 of each (same rule sets and price, the v1 row retired), so the
accounts bought from version 1 keep exactly what they bought.

Revision ID: challenges_0006
Revises: challenges_0005
"""

import json
import uuid
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "challenges_0006"
down_revision = "challenges_0005"
branch_labels = None
depends_on = None

SCHEMA = "challenges"
MONEY = sa.Numeric(20, 4)
NOW = sa.text("now()")

# (program id, account size, reset fee, free retries). Reset fees as prop firms price them ($39 to $149 by size);
# the two biggest tiers include one free retry.
TIERS = [
    ("eval-5k", 5_000, "39.00", 0),
    ("eval-10k", 10_000, "49.00", 0),
    ("eval-25k", 25_000, "69.00", 0),
    ("eval-50k", 50_000, "99.00", 0),
    ("eval-100k", 100_000, "129.00", 1),
    ("eval-200k", 200_000, "149.00", 1),
    # The monthly evaluations migration 0005 seeded, never sold yet: the fee a monthly reset sells at, not 40% of a
    # month's price.
    ("eval-monthly-25k", 25_000, "49.00", 0),
    ("eval-monthly-50k", 50_000, "69.00", 0),
    ("eval-monthly-100k", 100_000, "99.00", 0),
]


def _plan(size: int) -> list[dict]:
    """The funded account steps up by half its size after 2 payouts and doubles after 4 (50K: 75K, then 100K)."""
    return [
        {"after_payouts": 2, "account_size": f"{size * 3 // 2}.00", "currency": "USD"},
        {"after_payouts": 4, "account_size": f"{size * 2}.00", "currency": "USD"},
    ]


def upgrade() -> None:
    op.add_column("program_versions", sa.Column("reset_fee", MONEY), schema=SCHEMA)
    op.add_column(
        "program_versions", sa.Column("free_retries", sa.Integer, nullable=False, server_default="0"), schema=SCHEMA
    )
    op.add_column(
        "program_versions",
        sa.Column("scaling_plan", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        schema=SCHEMA,
    )
    op.create_check_constraint(
        "program_versions_retry_terms_check",
        "program_versions",
        "(reset_fee IS NULL OR reset_fee > 0) AND free_retries >= 0",
        schema=SCHEMA,
    )
    for column in (
        sa.Column("currency", sa.String(3)),
        sa.Column("reset_fee", MONEY),
        sa.Column("free_retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("free_retries_left", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scaling_plan", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("bought_account_size", MONEY),
        sa.Column("account_size", MONEY),
        sa.Column("payouts_counted", sa.Integer, nullable=False, server_default="0"),
    ):
        op.add_column("trading_accounts", column, schema=SCHEMA)
    op.create_check_constraint(
        "trading_accounts_free_retries_check",
        "trading_accounts",
        "free_retries_left >= 0 AND free_retries_left <= free_retries AND payouts_counted >= 0",
        schema=SCHEMA,
    )
    # A free retry has no order: the platform reset queue is keyed by whatever bought the new attempt (a reset
    # order's id or a free retry's id), so it no longer points at orders.
    op.drop_constraint("platform_resets_order_id_fkey", "platform_resets", schema=SCHEMA)
    # One row per completed payout, by the payouts service's id: the same payout delivered twice counts once.
    op.create_table(
        "account_payouts",
        sa.Column("payout_id", sa.String(128), primary_key=True),
        sa.Column(
            "account_id", UUID(as_uuid=True), sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"), nullable=False
        ),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=SCHEMA,
    )
    op.create_index("account_payouts_account", "account_payouts", ["account_id"], schema=SCHEMA)
    op.create_table(
        "account_scale_steps",
        sa.Column(
            "account_id",
            UUID(as_uuid=True),
            sa.ForeignKey(f"{SCHEMA}.trading_accounts.account_id"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),  # 1, 2, ... in the order the steps were taken
        sa.Column("step", sa.Integer, nullable=False),  # the step's place in the plan
        sa.Column("from_size", MONEY, nullable=False),
        sa.Column("to_size", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payouts", sa.Integer, nullable=False),
        sa.Column("payout_id", sa.String(128), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("to_size > from_size", name="account_scale_steps_up_check"),
        schema=SCHEMA,
    )
    # Existing versions keep the reset fee they were selling resets at (40% of the price, half up to the cent).
    op.execute(f"UPDATE {SCHEMA}.program_versions SET reset_fee = round(price * 0.40, 2)")  # noqa: S608
    _publish_seeded_terms()
    op.execute(
        f"""
        UPDATE {SCHEMA}.trading_accounts a
           SET currency = v.currency, reset_fee = v.reset_fee, free_retries = v.free_retries,
               free_retries_left = v.free_retries, scaling_plan = v.scaling_plan,
               bought_account_size = v.account_size, account_size = v.account_size
          FROM {SCHEMA}.program_versions v
         WHERE v.version_id = a.program_version_id
        """  # noqa: S608 - SCHEMA is this file's constant
    )


def _publish_seeded_terms() -> None:
    """Version 2 of each seeded tier: version 1's rule sets and price with the real retry and scaling terms."""
    bind = op.get_bind()
    for program_id, size, fee, retries in TIERS:
        current = (
            bind.execute(
                sa.text(
                    f"SELECT v.* FROM {SCHEMA}.program_versions v JOIN {SCHEMA}.programs p USING (program_id) "  # noqa: S608 - SCHEMA is this file's constant
                    "WHERE v.program_id = :p AND v.version = 1 AND p.current_version = 1 AND v.status = 'published'"
                ),
                {"p": program_id},
            )
            .mappings()
            .first()
        )
        if current is None:  # an environment where an admin already published a newer version: theirs stands
            continue
        has_funded = any(p["kind"] == "funded" for p in current["phases"])
        bind.execute(
            sa.text(f"UPDATE {SCHEMA}.program_versions SET status = 'retired' WHERE version_id = :v"),  # noqa: S608
            {"v": current["version_id"]},
        )
        bind.execute(
            sa.text(
                f"INSERT INTO {SCHEMA}.program_versions "  # noqa: S608 - SCHEMA is this file's constant
                "(version_id, program_id, version, name, currency, account_size, price, profit_split, phases, status, "
                " published_at, billing, reset_fee, free_retries, scaling_plan) "
                "SELECT :id, program_id, 2, name, currency, account_size, price, profit_split, phases, 'published', "
                " now(), billing, :fee, :retries, CAST(:plan AS jsonb) "
                f"FROM {SCHEMA}.program_versions WHERE version_id = :v"
            ),
            {
                # Deterministic, as version 1's: every environment names the same version 2.
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"dynasty-futures/programs/{program_id}/2"),
                "fee": Decimal(fee),
                "retries": retries,
                "plan": json.dumps(_plan(size) if has_funded else []),
                "v": current["version_id"],
            },
        )
        bind.execute(
            sa.text(
                f"UPDATE {SCHEMA}.programs SET current_version = 2, row_version = row_version + 1 "  # noqa: S608
                "WHERE program_id = :p"
            ),
            {"p": program_id},
        )


def downgrade() -> None:
    for program_id, *_ in TIERS:
        version_id = uuid.uuid5(uuid.NAMESPACE_URL, f"dynasty-futures/programs/{program_id}/2")
        bind = op.get_bind()
        deleted = bind.execute(
            sa.text(f"DELETE FROM {SCHEMA}.program_versions WHERE version_id = :v"),  # noqa: S608
            {"v": version_id},
        ).rowcount
        if deleted:
            bind.execute(
                sa.text(
                    f"UPDATE {SCHEMA}.program_versions SET status = 'published' "  # noqa: S608
                    "WHERE program_id = :p AND version = 1"
                ),
                {"p": program_id},
            )
            bind.execute(
                sa.text(
                    f"UPDATE {SCHEMA}.programs SET current_version = 1, row_version = row_version + 1 "  # noqa: S608
                    "WHERE program_id = :p"
                ),
                {"p": program_id},
            )
    op.drop_table("account_scale_steps", schema=SCHEMA)
    op.drop_index("account_payouts_account", "account_payouts", schema=SCHEMA)
    op.drop_table("account_payouts", schema=SCHEMA)
    op.create_foreign_key(
        "platform_resets_order_id_fkey",
        "platform_resets",
        "orders",
        ["order_id"],
        ["order_id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.drop_constraint("trading_accounts_free_retries_check", "trading_accounts", schema=SCHEMA)
    for name in (
        "payouts_counted",
        "account_size",
        "bought_account_size",
        "scaling_plan",
        "free_retries_left",
        "free_retries",
        "reset_fee",
        "currency",
    ):
        op.drop_column("trading_accounts", name, schema=SCHEMA)
    op.drop_constraint("program_versions_retry_terms_check", "program_versions", schema=SCHEMA)
    for name in ("scaling_plan", "free_retries", "reset_fee"):
        op.drop_column("program_versions", name, schema=SCHEMA)
