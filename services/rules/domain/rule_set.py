"""The rule-set format now lives in the shared kernel (libs/domain/rule_set.py), its one definition.

This module only re-exports it for callers outside services/rules that still import it from here
(benchmarks/bench_rules_throughput.py); delete it once they import libs.domain.rule_set.
"""

from libs.domain.rule_set import RuleSet, RuleSetError, parse_rule_set

__all__ = ["RuleSet", "RuleSetError", "parse_rule_set"]
