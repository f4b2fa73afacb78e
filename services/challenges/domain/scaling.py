"""Scaling plans of funded accounts: after N payouts the account steps up to a bigger size.

A plan is an ordered list of steps. Steps are taken one at a time and in order, so an account that reached two
thresholds at once (payouts counted while it was suspended) still records both steps, never skipping one. A step
rescales the funded rule set the trader bought to the new size: every amount in it is a size-relative figure
(drawdown, daily loss, balance thresholds), so it grows in proportion; contract limits grow in proportion too,
rounded down to whole contracts and never below what was bought.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from libs.domain.errors import InvalidArgument
from libs.domain.money import Money, to_decimal

# More steps than this is a typo, not a plan: real firms publish three to five.
MAX_STEPS = 10


@dataclass(frozen=True)
class ScalingStep:
    after_payouts: int  # the step is due once this many payouts have been completed on the funded account
    account_size: Money  # the size the account steps up to


def validate_scaling_plan(
    plan: Sequence[ScalingStep], *, account_size: Money, has_funded_phase: bool, field: str = "scaling_plan"
) -> tuple[ScalingStep, ...]:
    """Refuse, naming the step, a plan that cannot be applied: thresholds and sizes must both strictly increase,
    every size above the program's account size, in its currency; an empty plan is valid (no scaling)."""
    steps = tuple(plan)
    if not steps:
        return steps
    if not has_funded_phase:
        raise InvalidArgument("a scaling plan needs a funded phase to apply to", field=field)
    if len(steps) > MAX_STEPS:
        raise InvalidArgument(f"a scaling plan has at most {MAX_STEPS} steps", field=field)
    previous_payouts, previous_size = 0, account_size
    for i, step in enumerate(steps):
        if isinstance(step.after_payouts, bool) or not isinstance(step.after_payouts, int):
            raise InvalidArgument("after_payouts must be a whole number", field=f"{field}[{i}].after_payouts")
        if step.after_payouts <= previous_payouts:
            raise InvalidArgument(
                f"after_payouts must be greater than {previous_payouts} (steps strictly increase)",
                field=f"{field}[{i}].after_payouts",
            )
        if step.account_size.currency is not account_size.currency:
            raise InvalidArgument("account_size must be in the program's currency", field=f"{field}[{i}].account_size")
        if step.account_size.amount <= previous_size.amount:
            raise InvalidArgument(
                f"account_size must be greater than {previous_size.amount} (sizes strictly increase above the "
                "program's account size)",
                field=f"{field}[{i}].account_size",
            )
        previous_payouts, previous_size = step.after_payouts, step.account_size
    return steps


def next_step(plan: Sequence[ScalingStep], payouts: int, current_size: Money) -> tuple[int, ScalingStep] | None:
    """The first step (1-based number, step) that is due and not yet taken, or None."""
    for number, step in enumerate(plan, start=1):
        if step.account_size.amount > current_size.amount:
            return (number, step) if payouts >= step.after_payouts else None
    return None


def plan_to_json(plan: Sequence[ScalingStep]) -> list[dict[str, Any]]:
    return [
        {
            "after_payouts": s.after_payouts,
            "account_size": str(s.account_size.amount),
            "currency": s.account_size.currency.value,
        }
        for s in plan
    ]


def plan_from_json(raw: Sequence[Mapping[str, Any]] | None) -> tuple[ScalingStep, ...]:
    return tuple(
        ScalingStep(int(s["after_payouts"]), Money.of(str(s["account_size"]), s["currency"])) for s in (raw or ())
    )


_MONEY_PATHS = (
    ("start_balance",),
    ("drawdown", "max_loss"),
    ("drawdown", "lock", "amount"),
    ("daily_loss_limit", "amount"),
    ("profit_target", "amount"),
    ("min_trading_days", "threshold"),
)
_CENT = Decimal("0.01")


def _scaled(value: str, ratio: Decimal) -> str:
    return str((to_decimal(value) * ratio).quantize(_CENT, rounding=ROUND_HALF_UP))


def _contracts(value: str, ratio: Decimal) -> str:
    bought = to_decimal(value)
    return str(max(bought, (bought * ratio).to_integral_value(rounding=ROUND_DOWN)))


def scale_rule_set(rule_set: Mapping[str, Any], from_size: Money, to_size: Money) -> dict[str, Any]:
    """The rule set at `to_size`: amounts scaled by to/from (to the cent, half up), the start balance exactly the
    new size, contract limits scaled down to whole contracts but never below the bought ones."""
    ratio = to_size.amount / from_size.amount
    scaled = copy.deepcopy(dict(rule_set))
    for path in _MONEY_PATHS:
        block = scaled
        for key in path[:-1]:
            block = block.get(key) if isinstance(block, dict) else None
        if isinstance(block, dict) and isinstance(block.get(path[-1]), str):
            block[path[-1]] = _scaled(block[path[-1]], ratio)
    scaled["start_balance"] = str(to_size.amount.quantize(_CENT))
    daily = scaled.get("daily_loss_limit")
    if isinstance(daily, dict):
        for step in daily.get("steps") or []:
            step["eod_balance_at_least"] = _scaled(step["eod_balance_at_least"], ratio)
            step["amount"] = _scaled(step["amount"], ratio)
    contracts = scaled.get("max_contracts")
    if isinstance(contracts, dict):
        contracts["limit"] = _contracts(contracts["limit"], ratio)
        for tier in contracts.get("scaling") or []:
            tier["eod_balance_above"] = _scaled(tier["eod_balance_above"], ratio)
            tier["limit"] = _contracts(tier["limit"], ratio)
    return scaled
