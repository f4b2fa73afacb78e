"""Events the rules service publishes to other services through its outbox (ADR 0050 is the contract)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.domain.events import DomainEvent

# Which services receive which of our events.
EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    "AccountBreached": ("challenges",),
    "AccountPhasePassed": ("challenges",),
    "AccountBreachOverturned": ("challenges",),
}


@dataclass(frozen=True, kw_only=True)
class AccountBreached(DomainEvent):
    """A hard breach: challenges fails the running attempt, naming the rule."""

    account_id: str
    rule: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class AccountPhasePassed(DomainEvent):
    account_id: str
    phase: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class AccountBreachOverturned(DomainEvent):
    """An admin overturned the breach that failed the account: challenges restores the attempt it failed."""

    account_id: str
    rule: str
    at: datetime  # the breach's instant
    reason: str
