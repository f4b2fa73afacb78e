"""How a scenario's ``expect`` block is compared with a replay result (shared/scenarios/README.md).

Top-level fields are compared by value (numbers as decimals), ``timeline_contains`` entries must each match
some timeline entry on every key they give, ``timeline_excludes`` entries may match none. Instants are
compared as instants and decimal figures as numbers, never as spellings.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def _as_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def values_match(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(values_match(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and values_match(value, actual[key]) for key, value in expected.items()
        )
    expected_instant, actual_instant = _as_instant(expected), _as_instant(actual)
    if expected_instant is not None and actual_instant is not None:
        return expected_instant == actual_instant
    expected_number, actual_number = _as_decimal(expected), _as_decimal(actual)
    if expected_number is not None and actual_number is not None:
        return expected_number == actual_number
    return expected == actual


def entry_matches(expected: dict[str, Any], entry: dict[str, Any]) -> bool:
    return all(key in entry and values_match(value, entry[key]) for key, value in expected.items())


def mismatches(expect: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Every way ``result`` fails ``expect``, as readable lines (empty when it meets it)."""
    problems = []
    timeline = result["timeline"]
    for key, expected in expect.items():
        if key == "timeline_contains":
            for wanted in expected:
                if not any(entry_matches(wanted, entry) for entry in timeline):
                    problems.append(f"timeline has no entry matching {wanted}")
        elif key == "timeline_excludes":
            for unwanted in expected:
                hits = [entry for entry in timeline if entry_matches(unwanted, entry)]
                if hits:
                    problems.append(f"timeline has {hits[0]} matching excluded {unwanted}")
        elif key not in result:
            problems.append(f"result has no field {key!r}")
        elif not values_match(expected, result[key]):
            problems.append(f"{key}: expected {expected!r}, got {result[key]!r}")
    return problems
