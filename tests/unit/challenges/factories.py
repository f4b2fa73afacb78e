"""Valid rule sets and program terms to start tests from; each test changes one thing."""

from __future__ import annotations

import copy

from libs.domain.money import Money


def rule_set(start: str = "50000.00") -> dict:
    return copy.deepcopy(
        {
            "start_balance": start,
            "day_boundary": {"timezone": "America/Chicago", "eod_snapshot": "16:00", "day_roll": "17:00"},
            "drawdown": {
                "mode": "intraday_trailing",
                "max_loss": "2500.00",
                "lock": {"kind": "start_plus", "amount": "100.00"},
                "floor_to_start_on_payout": False,
            },
            "daily_loss_limit": {
                "amount": "1000.00",
                "breach": "soft",
                "steps": [{"eod_balance_at_least": "53000.00", "amount": "2000.00"}],
            },
            "profit_target": {"amount": "3000.00"},
            "min_trading_days": {"count": 5, "counts_if": "any_fill"},
            "consistency": {"max_ratio": "0.40", "compare": "lt", "mode": "gate"},
            "max_contracts": {
                "limit": "5",
                "micro_weight": "1",
                "enforcement": "pre_trade_reject",
                "scaling": [{"eod_balance_above": "52000.00", "limit": "8"}],
            },
            "flat_by": {"time": "15:10", "action": "auto_flatten"},
            "news": {"before_seconds": 120, "after_seconds": 120},
            "fees_per_side": {"ES": "2.50"},
        }
    )


def terms_kwargs(**overrides) -> dict:
    base = {
        "name": "Test 50K",
        "account_size": Money.of("50000.00"),
        "price": Money.of("249.00"),
        "profit_split": "0.80",
        "phases": [("phase_1", rule_set()), ("phase_2", rule_set()), ("funded", rule_set())],
    }
    base.update(overrides)
    return base
