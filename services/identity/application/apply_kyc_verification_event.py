"""Command: apply a verified Stripe Identity event (identity.verification_session.*) to the case it concerns.

Idempotent by Stripe event id: the id is stored first, in the same transaction as the change, so a redelivery
(Stripe retries, or the stand-in's `duplicates` knob) finds it and changes nothing. Events may arrive in any order:
the case compares each one's Stripe `created` time and status with the newest it applied (domain/kyc.py), so a
stale event never undoes a newer state. The gateway verified the signature; an event for a session we never
opened is NOT_FOUND and nothing is stored (the gateway acknowledges it: no retry would make it ours).

The one event that grants something, `verified`, is confirmed with Stripe (the session is retrieved and must be
`verified` there) before it is applied: the RPC takes no user token, so a caller inside the network that forged one
must not be able to approve a case. The call is made before the transaction opens; an unconfirmed event is stored
with verdict `unconfirmed` and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, NotFound
from services.identity.application.common import audit_entry
from services.identity.application.kyc_ports import IdentityVerifier, KycUnitOfWork, StoredStripeEvent
from services.identity.domain.kyc import EventVerdict, KycCase, StripeSessionSignal, signal_for

UNCONFIRMED = "unconfirmed"

STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{4,255}$")


@dataclass(frozen=True)
class ApplyKycVerificationEvent:
    stripe_event_id: str
    event_type: str
    verification_session_id: str
    event_created_at: datetime | None
    last_error_code: str = ""
    ip: str | None = None


@dataclass(frozen=True)
class AppliedKycEvent:
    duplicate: bool
    case: KycCase | None
    verdict: str


def _check(value: str, prefix: str, field: str) -> str:
    if not value.startswith(prefix) or not STRIPE_ID.fullmatch(value):
        raise InvalidArgument(f"{field} must be a Stripe id starting {prefix}", field=field)
    return value


class ApplyKycVerificationEventHandler:
    def __init__(self, uow: Callable[[], KycUnitOfWork], clock: Clock, verifier: IdentityVerifier) -> None:
        self._uow = uow
        self._clock = clock
        self._verifier = verifier

    async def __call__(self, cmd: ApplyKycVerificationEvent) -> AppliedKycEvent:
        event_id = _check(cmd.stripe_event_id, "evt_", "stripe_event_id")
        session_id = _check(cmd.verification_session_id, "vs_", "verification_session_id")
        signal = signal_for(cmd.event_type)
        if cmd.event_created_at is None or cmd.event_created_at.tzinfo is None:
            raise InvalidArgument("the event's creation time is required", field="event_created_at")
        error_code = (cmd.last_error_code or "")[:64]
        confirmed = True
        if signal is StripeSessionSignal.VERIFIED:
            async with self._uow() as uow:
                ours = await uow.kyc.get_by_session(session_id) is not None
            if ours:  # a stranger's session is NOT_FOUND below, without asking Stripe about it
                confirmed = (await self._verifier.retrieve_session(session_id)).status == "verified"
        now = self._clock.now()
        async with self._uow() as uow:
            fresh = await uow.kyc.record_event(
                StoredStripeEvent(
                    stripe_event_id=event_id,
                    event_type=cmd.event_type,
                    verification_session_id=session_id,
                    event_created_at=cmd.event_created_at,
                    verdict="received",
                    received_at=now,
                )
            )
            if not fresh:
                return AppliedKycEvent(duplicate=True, case=await uow.kyc.get_by_session(session_id), verdict="")
            case = await uow.kyc.get_by_session(session_id, for_update=True)
            if case is None:
                raise NotFound(f"no KYC case has verification session {session_id}", reason="KYC_SESSION_UNKNOWN")
            if not confirmed:
                await uow.kyc.set_event_verdict(event_id, UNCONFIRMED)
                await uow.commit()
                return AppliedKycEvent(duplicate=False, case=case, verdict=UNCONFIRMED)
            before = case.summary()
            verdict = case.apply_stripe_event(session_id, signal, cmd.event_created_at, error_code, now)
            await uow.kyc.set_event_verdict(event_id, verdict.value)
            if verdict in (EventVerdict.APPLIED, EventVerdict.NO_TRANSITION):
                await uow.kyc.save(case)
            if case.summary() != before:
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id="stripe",
                        actor_role="system",
                        ip=cmd.ip,
                        action="kyc.verification_event",
                        subject_id=str(case.user_id),
                        before=before,
                        after={**case.summary(), "stripe_event_id": event_id, "event_type": cmd.event_type},
                    )
                )
            await uow.commit()
        return AppliedKycEvent(duplicate=False, case=case, verdict=verdict.value)
