"""Validation of a program phase's rule set, in the replay `rule_set` JSON format (shared/scenarios/README.md).

A rule set is snapshotted onto every trading account created from the program, so a bad one would misjudge real
traders for the life of those accounts. The format is a contract with the rules service, which enforces it, so
every check lives in one place, the shared parser (libs/domain/rule_set.py): this adapter parses with it and
names the failing field where the rule set sits in the caller's document.
"""

from __future__ import annotations

from typing import Any

from libs.domain.errors import InvalidArgument
from libs.domain.rule_set import RuleSetError, parse_rule_set


class InvalidRuleSet(InvalidArgument):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"rule set field {field}: {problem}", field=field, reason="INVALID_RULE_SET")


def validate_rule_set(value: Any, path: str = "rule_set") -> dict[str, Any]:
    """Check a rule set completely; return it unchanged (a plain dict) or raise InvalidRuleSet naming the field
    as ``<path>.<field inside the rule set>``."""
    try:
        parse_rule_set(value)
    except RuleSetError as error:
        field = f"{path}.{error.path_inside}" if error.path_inside else path
        raise InvalidRuleSet(field, error.problem) from None
    return dict(value)
