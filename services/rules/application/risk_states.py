"""Build an account's AccountRisk from its rule set and a snapshot, parsing each rule set once per process.

The news calendar in force is this process's copy of the restricted events (set by the calendar's refresher after
start and after every import); only rule sets with a news block look at it.
"""

from __future__ import annotations

import json
from functools import lru_cache

from libs.domain.rule_set import RuleSet, parse_rule_set
from services.rules.application.monitored_account import MonitoredAccount
from services.rules.domain.account_risk import AccountRisk
from services.rules.domain.trade_events import NewsEvent

_news: tuple[NewsEvent, ...] = ()


def set_news_calendar(events: tuple[NewsEvent, ...]) -> None:
    global _news
    _news = tuple(sorted(events, key=lambda event: event.at))


def news_calendar() -> tuple[NewsEvent, ...]:
    return _news


@lru_cache(maxsize=4096)
def _parsed(rule_set_json: str) -> RuleSet:
    return parse_rule_set(json.loads(rule_set_json))


def rule_set_of(account: MonitoredAccount) -> RuleSet:
    return _parsed(json.dumps(account.rule_set, sort_keys=True))


def restore(account: MonitoredAccount, snapshot: dict | None) -> AccountRisk:
    rule_set = rule_set_of(account)
    news = _news if rule_set.news is not None else ()
    if snapshot is None:
        return AccountRisk(rule_set, news)
    return AccountRisk.from_snapshot(rule_set, snapshot, news)
