"""A trading account and its lifecycle, as an explicit transition table.

    pending_payment -> provisioning -> phase_1 -> phase_2 -> passed -> funded
    plus failed, suspended and closed

The account snapshots the rule sets of the program version it was bought from (the exact JSON), so later catalogue
versions never change the terms a trader is judged by. Every evaluation run is an Attempt; a reset starts a new one
and keeps the old ones for history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from libs.domain.aggregate import Aggregate
from libs.domain.errors import FailedPrecondition, InvalidTransition
from libs.domain.events import DomainEvent
from libs.domain.ids import ProgramId
from libs.domain.money import Money
from services.challenges.domain.scaling import ScalingStep, next_step, scale_rule_set

if TYPE_CHECKING:  # the subscription policy (domain/subscription.py) imports this module
    from services.challenges.domain.subscription import Subscription


class AccountStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PROVISIONING = "provisioning"
    PHASE_1 = "phase_1"
    PHASE_2 = "phase_2"
    PASSED = "passed"
    FUNDED = "funded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    CLOSED = "closed"


S = AccountStatus
# Which status may follow which. Anything not listed is refused with InvalidTransition naming the current status.
# failed -> phase_1 is a reset (a new attempt); failed -> the failed attempt's own phase is an overturned breach
# (checked in `breach_overturned`); suspended -> X is a reinstatement, and only to the status the account was
# suspended from (checked in `reinstate`).
TRANSITIONS: Mapping[AccountStatus, frozenset[AccountStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.PROVISIONING, S.CLOSED}),
    S.PROVISIONING: frozenset({S.PHASE_1, S.CLOSED}),
    S.PHASE_1: frozenset({S.PHASE_1, S.PHASE_2, S.PASSED, S.FAILED, S.SUSPENDED, S.CLOSED}),
    S.PHASE_2: frozenset({S.PHASE_1, S.PASSED, S.FAILED, S.SUSPENDED, S.CLOSED}),
    S.PASSED: frozenset({S.FUNDED, S.SUSPENDED, S.CLOSED}),
    S.FUNDED: frozenset({S.FAILED, S.SUSPENDED, S.CLOSED}),
    S.FAILED: frozenset({S.PHASE_1, S.PHASE_2, S.FUNDED, S.CLOSED}),
    S.SUSPENDED: frozenset({S.PHASE_1, S.PHASE_2, S.PASSED, S.FUNDED, S.CLOSED}),
    S.CLOSED: frozenset(),
}
ACTIVE = frozenset({S.PHASE_1, S.PHASE_2, S.FUNDED})
# A reset is bought to try the evaluation again: from a failed run, or to restart a running evaluation phase.
RESETTABLE = frozenset({S.FAILED, S.PHASE_1, S.PHASE_2})
FRAUD_RULE = "fraud"


def ensure_transition(current: AccountStatus, target: AccountStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition("account", current.value, target.value)


@dataclass(frozen=True)
class PhaseSnapshot:
    kind: str  # phase_1 | phase_2 | funded
    rule_set: Mapping[str, Any]


@dataclass(frozen=True)
class Attempt:
    number: int
    phase: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None  # passed | failed | reset | closed
    failed_rule: str | None = None


@dataclass(frozen=True)
class BoughtTerms:
    """The retry and scaling terms of the version bought, snapshotted like its rule sets (ADR 0054): a later
    version with another fee or plan never changes what this trader paid for."""

    account_size: Money
    reset_fee: Money | None  # None: this version sells no resets
    free_retries: int
    scaling_plan: tuple[ScalingStep, ...] = ()


@dataclass(frozen=True)
class ScaleStep:
    """One step of the scaling plan taken: kept for the admin's history."""

    number: int  # the step's place in the plan, 1-based
    from_size: Money
    to_size: Money
    payouts: int  # payouts counted when the step was taken
    payout_id: str  # the payout that reached it
    at: datetime


@dataclass(frozen=True)
class PlatformAccount:
    user_id: str
    account_id: str
    login: str


@dataclass(frozen=True)
class FundingEligibility:
    """What identity knows about the trader, passed in by the caller: the domain only judges it."""

    kyc_approved: bool
    agreement_accepted: bool


@dataclass(frozen=True, kw_only=True)
class AccountStatusChanged(DomainEvent):
    account_id: UUID
    user_id: str
    previous: str
    status: str
    reason: str
    attempt: int


@dataclass(frozen=True, kw_only=True)
class AccountActivated(DomainEvent):
    """The account is live on the platform: the rules service starts judging it by this rule set."""

    account_id: UUID
    user_id: str
    program_id: str
    phase: str
    attempt: int
    rule_set: Mapping[str, Any]
    platform_account_id: str


@dataclass(frozen=True, kw_only=True)
class AccountScaled(DomainEvent):
    """A funded account stepped up its size: the rules service judges it from now on by this rule set."""

    account_id: UUID
    user_id: str
    program_id: str
    phase: str
    attempt: int
    step: int
    payouts: int
    previous_size: str
    account_size: str
    currency: str
    rule_set: Mapping[str, Any]
    platform_account_id: str


class NoFreeRetryLeft(FailedPrecondition):
    def __init__(self, bought: int) -> None:
        super().__init__(
            f"this account has no free retry left (it came with {bought}); a paid reset is still possible",
            reason="NO_FREE_RETRY_LEFT",
            free_retries=str(bought),
        )


@dataclass(eq=False)
class TradingAccount(Aggregate):
    account_id: UUID
    order_id: UUID
    user_id: str
    user_email: str
    program_id: ProgramId
    program_version_id: UUID
    program_version: int
    phases: tuple[PhaseSnapshot, ...]
    status: AccountStatus
    created_at: datetime
    attempts: tuple[Attempt, ...] = ()
    suspended_from: AccountStatus | None = None
    failed_rule: str | None = None
    platform: PlatformAccount | None = None
    # Monthly programs only: the Stripe subscription paying for the evaluation (domain/subscription.py).
    subscription: Subscription | None = None
    # A machine-readable cause of the current suspension when one was given (e.g. non_payment, lifted by payment).
    suspended_for: str | None = None
    # Retry and scaling terms (ADR 0054); None only for an account built without them (then: none of either).
    terms: BoughtTerms | None = None
    free_retries_left: int = 0
    account_size: Money | None = None  # the size now: the bought one until a scaling step
    payouts_counted: int = 0  # payouts of the current funded run, counted toward the scaling plan
    scale_steps: tuple[ScaleStep, ...] = ()
    version: int = 0
    _events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def aggregate_id(self) -> str:
        return str(self.account_id)

    # -- construction --------------------------------------------------------------------------------------------
    @classmethod
    def for_paid_order(
        cls,
        *,
        account_id: UUID,
        order_id: UUID,
        user_id: str,
        user_email: str,
        program_id: ProgramId,
        program_version_id: UUID,
        program_version: int,
        phases: Sequence[PhaseSnapshot],
        at: datetime,
        terms: BoughtTerms | None = None,
    ) -> TradingAccount:
        """An account is born awaiting payment; the order that creates it is paid, so it goes to provisioning."""
        if not phases or phases[0].kind != S.PHASE_1.value:
            raise FailedPrecondition("a program version must start with phase_1", reason="FAILED_PRECONDITION")
        account = cls(
            account_id=account_id,
            order_id=order_id,
            user_id=user_id,
            user_email=user_email,
            program_id=program_id,
            program_version_id=program_version_id,
            program_version=program_version,
            phases=tuple(PhaseSnapshot(p.kind, dict(p.rule_set)) for p in phases),
            status=S.PENDING_PAYMENT,
            created_at=at,
            terms=terms,
            free_retries_left=terms.free_retries if terms else 0,
            account_size=terms.account_size if terms else None,
        )
        account._move(S.PROVISIONING, "order paid", at, announce=False)
        return account

    # -- queries -------------------------------------------------------------------------------------------------
    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def rule_set_for(self, kind: str) -> Mapping[str, Any]:
        for phase in self.phases:
            if phase.kind == kind:
                return phase.rule_set
        raise FailedPrecondition(f"program has no {kind}", reason="FAILED_PRECONDITION", phase=kind)

    def _next_phase_after(self, kind: str) -> AccountStatus:
        kinds = [p.kind for p in self.phases]
        following = kinds[kinds.index(kind) + 1 :] if kind in kinds else []
        # After the last evaluation phase comes `passed` (funded needs KYC and the agreement first).
        return S.PHASE_2 if following and following[0] == S.PHASE_2.value else S.PASSED

    # -- the one place a status changes --------------------------------------------------------------------------
    def _move(self, target: AccountStatus, reason: str, at: datetime, *, announce: bool = True) -> None:
        """`announce=False` where no one outside needs the change as such: the account's creation (nobody knows it
        yet), or a move that AccountActivated announces with the new phase itself (ADR 0050)."""
        ensure_transition(self.status, target)
        previous = self.status
        self.status = target
        self.version += 1
        if not announce:
            return
        attempt = self.current_attempt.number if self.current_attempt else 0
        self._record_event(
            AccountStatusChanged(
                occurred_at=at,
                account_id=self.account_id,
                user_id=self.user_id,
                previous=previous.value,
                status=target.value,
                reason=reason,
                attempt=attempt,
            )
        )

    def _end_attempt(self, outcome: str, at: datetime, failed_rule: str | None = None) -> None:
        current = self.current_attempt
        if current is not None and current.ended_at is None:
            ended = replace(current, ended_at=at, outcome=outcome, failed_rule=failed_rule)
            self.attempts = (*self.attempts[:-1], ended)

    def _start_attempt(self, phase: AccountStatus, at: datetime) -> None:
        number = (self.current_attempt.number + 1) if self.current_attempt else 1
        self.attempts = (*self.attempts, Attempt(number=number, phase=phase.value, started_at=at))

    def _activated(self, phase: AccountStatus, at: datetime) -> None:
        if self.platform is None:  # every path here passed through provisioning; a programming error otherwise
            raise RuntimeError(f"account {self.account_id} has no platform account")
        self._record_event(
            AccountActivated(
                occurred_at=at,
                account_id=self.account_id,
                user_id=self.user_id,
                program_id=self.program_id,
                phase=phase.value,
                attempt=self.current_attempt.number if self.current_attempt else 0,
                rule_set=dict(self.rule_set_for(phase.value)),
                platform_account_id=self.platform.account_id,
            )
        )

    # -- commands ------------------------------------------------------------------------------------------------
    def provisioned(self, platform: PlatformAccount, at: datetime) -> None:
        """The platform created the account: the first attempt of phase 1 starts."""
        if self.status is not S.PROVISIONING:
            raise InvalidTransition("account", self.status.value, S.PHASE_1.value)
        self.platform = platform
        self._move(S.PHASE_1, "provisioned on the trading platform", at, announce=False)
        self._start_attempt(S.PHASE_1, at)
        self._activated(S.PHASE_1, at)

    def breach(self, rule: str, at: datetime) -> None:
        """The rules service saw a hard breach: the attempt ends failed, naming the rule."""
        self._move(S.FAILED, f"rule breached: {rule}", at)
        self.failed_rule = rule
        self._end_attempt("failed", at, failed_rule=rule)

    def breach_overturned(self, rule: str, at: datetime) -> None:
        """An admin overturned the breach that failed this account (rules spec section 7): the failed attempt is
        reopened in its own phase, as if the breach had not happened. Only the breach that ended the current attempt
        can be overturned; anything else (a reset since, another rule, an account not failed) is refused."""
        current = self.current_attempt
        if self.status is not S.FAILED or current is None or current.outcome != "failed" or current.failed_rule != rule:
            raise InvalidTransition("account", self.status.value, f"breach of {rule} overturned")
        phase = AccountStatus(current.phase)
        self._move(phase, f"breach of {rule} overturned", at)
        self.failed_rule = None
        self.attempts = (*self.attempts[:-1], replace(current, ended_at=None, outcome=None, failed_rule=None))

    def phase_passed(self, phase: str, at: datetime) -> None:
        """The rules service says the phase's target was reached. A report for a phase the account is no longer in
        (a late or repeated event) is refused, naming the current status, rather than advancing twice."""
        if phase != self.status.value or self.status not in (S.PHASE_1, S.PHASE_2):
            raise InvalidTransition("account", self.status.value, f"{phase} passed")
        target = self._next_phase_after(phase)
        self._end_attempt("passed", at)
        self._move(target, f"{phase} passed", at, announce=target is not S.PHASE_2)
        if target is S.PHASE_2:
            self._start_attempt(S.PHASE_2, at)
            self._activated(S.PHASE_2, at)

    def fund(self, eligibility: FundingEligibility, at: datetime) -> None:
        if self.status is not S.PASSED:
            raise InvalidTransition("account", self.status.value, S.FUNDED.value)
        if not any(p.kind == S.FUNDED.value for p in self.phases):
            raise FailedPrecondition("this program has no funded stage", reason="NO_FUNDED_STAGE")
        if not eligibility.kyc_approved:
            raise FailedPrecondition("funding needs an approved KYC check", reason="KYC_NOT_APPROVED")
        if not eligibility.agreement_accepted:
            raise FailedPrecondition(
                "funding needs the funded-trader agreement accepted", reason="AGREEMENT_NOT_ACCEPTED"
            )
        self._move(S.FUNDED, "funded", at, announce=False)
        self._start_attempt(S.FUNDED, at)
        self._activated(S.FUNDED, at)

    def suspend(self, reason: str, at: datetime, *, cause: str | None = None) -> None:
        previous = self.status
        self._move(S.SUSPENDED, reason, at)
        self.suspended_from = previous
        self.suspended_for = cause

    def reinstate(self, reason: str, at: datetime) -> None:
        if self.status is not S.SUSPENDED or self.suspended_from is None:
            raise InvalidTransition("account", self.status.value, "reinstated")
        target = self.suspended_from
        self._move(target, reason, at)
        self.suspended_from = None
        self.suspended_for = None

    def ensure_resettable(self) -> None:
        """Refuse, naming why, a reset this account cannot take (checked before the trader pays for one)."""
        if self.status is S.FAILED and self.failed_rule == FRAUD_RULE:
            raise FailedPrecondition(
                "this account failed for fraud and cannot be reset", reason="FAILED_FOR_FRAUD", current_state="failed"
            )
        if self.status not in RESETTABLE:
            raise InvalidTransition("account", self.status.value, "reset")

    def reset(self, at: datetime) -> None:
        """A paid reset: a new attempt at phase 1 with a fresh balance; earlier attempts stay in the history."""
        self.ensure_resettable()
        self._restart("reset", at)

    def ensure_free_retry(self) -> None:
        """Refuse, naming why, a free retry: only a failed run (not for fraud) of an account with one left."""
        self.ensure_resettable()
        if self.status is not S.FAILED:
            raise InvalidTransition("account", self.status.value, "free retry")
        if self.free_retries_left <= 0:
            raise NoFreeRetryLeft(self.terms.free_retries if self.terms else 0)

    def free_retry(self, at: datetime) -> None:
        """A free retry the program included: the same new attempt as a paid reset, one retry fewer left."""
        self.ensure_free_retry()
        self.free_retries_left -= 1
        self._restart("free retry", at)

    def _restart(self, reason: str, at: datetime) -> None:
        self._end_attempt("reset", at)
        self._move(S.PHASE_1, reason, at, announce=False)
        self.failed_rule = None
        # The evaluation starts over at the size bought; a later funded run counts its payouts from zero.
        if self.terms is not None:
            self.account_size = self.terms.account_size
        self.payouts_counted = 0
        self._start_attempt(S.PHASE_1, at)
        self._activated(S.PHASE_1, at)

    # -- scaling -------------------------------------------------------------------------------------------------
    def funded_rule_set(self) -> Mapping[str, Any]:
        """The funded rule set at the account's current size (the bought one until a scaling step)."""
        bought = self.rule_set_for(S.FUNDED.value)
        if self.terms is None or self.account_size is None or self.account_size == self.terms.account_size:
            return bought
        return scale_rule_set(bought, self.terms.account_size, self.account_size)

    def record_payout(self, payout_id: str, at: datetime) -> tuple[ScaleStep, ...]:
        """A payout of this funded run was completed: count it, and take every step of the plan now due, in
        order. A payout counted while the account is not trading (suspended) is kept; its step waits for the next
        payout of a funded account. Returns the steps taken."""
        current = self.current_attempt
        if current is None or current.phase != S.FUNDED.value or self.status is S.CLOSED:
            raise FailedPrecondition(
                f"account in {self.status.value} has no funded run to count a payout for",
                reason="NOT_FUNDED",
                current_state=self.status.value,
            )
        self.payouts_counted += 1
        self.version += 1
        taken: list[ScaleStep] = []
        while self.status is S.FUNDED and self.terms is not None and self.account_size is not None:
            due = next_step(self.terms.scaling_plan, self.payouts_counted, self.account_size)
            if due is None:
                break
            number, step = due
            taken.append(self._scale(number, step, payout_id, at))
        return tuple(taken)

    def _scale(self, number: int, step: ScalingStep, payout_id: str, at: datetime) -> ScaleStep:
        previous = self.account_size
        if self.platform is None or previous is None:  # a funded account was provisioned and sized
            raise RuntimeError(f"account {self.account_id} has no platform account or size")
        self.account_size = step.account_size
        record = ScaleStep(number, previous, step.account_size, self.payouts_counted, payout_id, at)
        self.scale_steps = (*self.scale_steps, record)
        self._record_event(
            AccountScaled(
                occurred_at=at,
                account_id=self.account_id,
                user_id=self.user_id,
                program_id=self.program_id,
                phase=S.FUNDED.value,
                attempt=self.current_attempt.number if self.current_attempt else 0,
                step=number,
                payouts=self.payouts_counted,
                previous_size=str(previous.amount),
                account_size=str(step.account_size.amount),
                currency=step.account_size.currency.value,
                rule_set=dict(self.funded_rule_set()),
                platform_account_id=self.platform.account_id,
            )
        )
        return record

    def close(self, reason: str, at: datetime) -> None:
        self._move(S.CLOSED, reason, at)
        self._end_attempt("closed", at)
