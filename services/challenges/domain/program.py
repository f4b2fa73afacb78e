"""The program catalogue: challenge products and their immutable, versioned terms.

A published ProgramVersion is never edited: accounts snapshot its rule sets, and a trader must be judged by the
terms they bought. Changing a program means publishing a new version, which retires the previous one for new orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from libs.domain.aggregate import Aggregate
from libs.domain.clock import Clock
from libs.domain.errors import ConcurrencyConflict, InvalidArgument, NotFound
from libs.domain.events import DomainEvent
from libs.domain.ids import ProgramId
from libs.domain.money import Money, MoneyError, to_decimal
from services.challenges.domain.account import BoughtTerms
from services.challenges.domain.rule_set import InvalidRuleSet, validate_rule_set
from services.challenges.domain.scaling import ScalingStep, validate_scaling_plan
from services.challenges.domain.subscription import Billing


class PhaseKind(StrEnum):
    PHASE_1 = "phase_1"
    PHASE_2 = "phase_2"
    FUNDED = "funded"


class VersionStatus(StrEnum):
    PUBLISHED = "published"
    RETIRED = "retired"


# More free retries than this is a data-entry slip, not a promotion.
MAX_FREE_RETRIES = 5
# A program runs its phases in this order; it may skip phase 2 (one-step evaluations) or the funded stage.
_PHASE_ORDER = (PhaseKind.PHASE_1, PhaseKind.PHASE_2, PhaseKind.FUNDED)


class ProgramNotFound(NotFound):
    def __init__(self, program_id: str, version: int | None = None) -> None:
        what = f"program {program_id!r}" + (f" version {version}" if version else "")
        super().__init__(f"{what} does not exist", reason="NOT_FOUND", program_id=program_id)


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    rule_set: Mapping[str, Any]


@dataclass(frozen=True)
class ProgramTerms:
    """What an admin specifies for a version; validated on construction."""

    name: str
    account_size: Money
    price: Money
    profit_split: Decimal
    phases: tuple[Phase, ...]
    # Resets, free retries and scaling (ADR 0054). No reset fee: this version sells no resets.
    reset_fee: Money | None = None
    free_retries: int = 0
    scaling_plan: tuple[ScalingStep, ...] = ()

    # one_time: `price` buys the evaluation; monthly: `price` is charged every month by a subscription (ADR 0051).
    billing: Billing = Billing.ONE_TIME

    def __post_init__(self) -> None:
        if not isinstance(self.billing, Billing):
            raise InvalidArgument("billing must be one_time or monthly", field="billing")
        if not self.name or len(self.name) > 100:
            raise InvalidArgument("name must be 1 to 100 characters", field="name")
        if self.account_size.amount <= 0:
            raise InvalidArgument("account_size must be greater than 0", field="account_size")
        if self.price.amount <= 0:
            raise InvalidArgument("price must be greater than 0", field="price")
        if self.price.currency is not self.account_size.currency:
            raise InvalidArgument("price and account_size must be in one currency", field="price")
        if not Decimal(0) < self.profit_split <= Decimal(1):
            raise InvalidArgument("profit_split must be greater than 0 and at most 1", field="profit_split")
        if not self.phases:
            raise InvalidArgument("a program needs at least one phase", field="phases")
        kinds = [p.kind for p in self.phases]
        if kinds != sorted(set(kinds), key=_PHASE_ORDER.index) or kinds[0] is not PhaseKind.PHASE_1:
            raise InvalidArgument(
                "phases must start with phase_1 and follow phase_1, phase_2, funded without repeats", field="phases"
            )
        for i, phase in enumerate(self.phases):
            if to_decimal(phase.rule_set["start_balance"]) != self.account_size.amount:
                raise InvalidRuleSet(f"phases[{i}].rule_set.start_balance", "must equal the program's account_size")
        self._check_retry_and_scaling_terms()

    def bought(self) -> BoughtTerms:
        """The retry and scaling terms an account bought from this version snapshots (ADR 0054)."""
        return BoughtTerms(
            account_size=self.account_size,
            reset_fee=self.reset_fee,
            free_retries=self.free_retries,
            scaling_plan=self.scaling_plan,
        )

    def _check_retry_and_scaling_terms(self) -> None:
        if self.reset_fee is not None:
            if self.reset_fee.amount <= 0:
                raise InvalidArgument("reset_fee must be greater than 0", field="reset_fee")
            if self.reset_fee.currency is not self.price.currency:
                raise InvalidArgument("reset_fee must be in the price's currency", field="reset_fee")
        if isinstance(self.free_retries, bool) or not isinstance(self.free_retries, int):
            raise InvalidArgument("free_retries must be a whole number", field="free_retries")
        if not 0 <= self.free_retries <= MAX_FREE_RETRIES:
            raise InvalidArgument(f"free_retries must be 0 to {MAX_FREE_RETRIES}", field="free_retries")
        validate_scaling_plan(
            self.scaling_plan,
            account_size=self.account_size,
            has_funded_phase=any(p.kind is PhaseKind.FUNDED for p in self.phases),
        )


def build_terms(
    *,
    name: str,
    account_size: Money,
    price: Money,
    profit_split: str,
    phases: Sequence[tuple[str, Any]],
    reset_fee: Money | None = None,
    free_retries: int = 0,
    scaling_plan: Sequence[ScalingStep] = (),
    billing: str = "",
) -> ProgramTerms:
    """Turn raw input (phase kind names and rule-set JSON objects) into validated terms, naming any bad field."""
    try:
        split = to_decimal(profit_split, field="profit_split")
    except MoneyError as exc:
        raise InvalidArgument(str(exc), field="profit_split") from None
    built: list[Phase] = []
    for i, (kind, rule_set) in enumerate(phases):
        try:
            phase_kind = PhaseKind(kind)
        except ValueError:
            raise InvalidArgument(f"phases[{i}].kind {kind!r} is not a phase", field=f"phases[{i}].kind") from None
        built.append(Phase(phase_kind, validate_rule_set(rule_set, f"phases[{i}].rule_set")))
    try:
        billing_term = Billing(billing or Billing.ONE_TIME.value)  # empty: the default, one-time
    except ValueError:
        raise InvalidArgument(f"billing {billing!r} must be one_time or monthly", field="billing") from None
    return ProgramTerms(
        name=name,
        account_size=account_size,
        price=price,
        profit_split=split,
        phases=tuple(built),
        reset_fee=reset_fee,
        free_retries=free_retries,
        scaling_plan=tuple(scaling_plan),
        billing=billing_term,
    )


@dataclass(frozen=True)
class ProgramVersion:
    version_id: UUID
    program_id: ProgramId
    version: int
    terms: ProgramTerms
    status: VersionStatus
    published_at: datetime


@dataclass(frozen=True, kw_only=True)
class ProgramVersionPublished(DomainEvent):
    program_id: str
    version: int
    version_id: UUID
    previous_version: int | None
    price: Money
    account_size: Money


@dataclass(eq=False)
class Program(Aggregate):
    """One product line: its id and which version is current. `version` is the optimistic-lock counter."""

    program_id: ProgramId
    current_version: int
    version: int = 0
    _events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def aggregate_id(self) -> str:
        return self.program_id

    @classmethod
    def new(cls, program_id: ProgramId) -> Program:
        return cls(program_id=program_id, current_version=0, version=0)

    def publish(
        self, terms: ProgramTerms, *, version_id: UUID, expected_current_version: int | None, clock: Clock
    ) -> ProgramVersion:
        if expected_current_version is not None and expected_current_version != self.current_version:
            raise ConcurrencyConflict(
                f"program {self.program_id} is at version {self.current_version}, "
                f"not {expected_current_version}; re-read it and try again",
                current_version=str(self.current_version),
            )
        previous = self.current_version or None
        self.current_version += 1
        self.version += 1
        published = ProgramVersion(
            version_id=version_id,
            program_id=self.program_id,
            version=self.current_version,
            terms=terms,
            status=VersionStatus.PUBLISHED,
            published_at=clock.now(),
        )
        self._record_event(
            ProgramVersionPublished(
                occurred_at=published.published_at,
                program_id=self.program_id,
                version=published.version,
                version_id=version_id,
                previous_version=previous,
                price=terms.price,
                account_size=terms.account_size,
            )
        )
        return published
