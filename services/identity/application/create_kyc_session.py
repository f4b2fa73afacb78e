"""Command: open (or reopen) the caller's identity verification with a Stripe Identity VerificationSession.

The Stripe call happens outside any database transaction (a slow Stripe must not hold row locks) and carries the
idempotency key "kyc-session:<user id>:<attempt>": a retry after a failure between Stripe's answer and our commit
gets the same session back instead of a second one. A case already pending returns its open session's URL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from services.identity.application.common import Actor, audit_entry, load_user, require_signed_in
from services.identity.application.kyc_ports import IdentityVerifier, KycUnitOfWork
from services.identity.domain.kyc import KycCase
from services.identity.domain.user import KycStatus

MAX_RETURN_URL = 2048


@dataclass(frozen=True)
class CreateKycSession:
    actor: Actor
    return_url: str = ""


@dataclass(frozen=True)
class OpenedKycSession:
    verification_url: str
    case: KycCase


def idempotency_key(user_id, attempt: int) -> str:
    return f"kyc-session:{user_id}:{attempt}"


def _return_url(raw: str) -> str | None:
    url = (raw or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if len(url) > MAX_RETURN_URL or parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidArgument("return_url must be an absolute http(s) URL", field="return_url")
    return url


class CreateKycSessionHandler:
    def __init__(self, uow: Callable[[], KycUnitOfWork], clock: Clock, verifier: IdentityVerifier) -> None:
        self._uow = uow
        self._clock = clock
        self._verifier = verifier

    async def __call__(self, cmd: CreateKycSession) -> OpenedKycSession:
        user_id = require_signed_in(cmd.actor)
        return_url = _return_url(cmd.return_url)
        async with self._uow() as uow:
            user = await load_user(uow, user_id)
            if not user.may_sign_in:
                raise FailedPrecondition("only an active account can verify its identity", reason="ACCOUNT_INACTIVE")
            case = await uow.kyc.get(user_id) or KycCase.new(user_id, self._clock.now())
        if case.status is KycStatus.PENDING and case.verification_session_id:
            session = await self._verifier.retrieve_session(case.verification_session_id)
            return OpenedKycSession(verification_url=session.url or "", case=case)
        attempt = case.next_attempt()  # InvalidTransition for approved and rejected cases

        session = await self._verifier.create_session(
            user_id=user_id, return_url=return_url, idempotency_key=idempotency_key(user_id, attempt)
        )

        now = self._clock.now()
        async with self._uow() as uow:
            stored = await uow.kyc.get(user_id, for_update=True)
            if stored is not None and stored.attempts >= attempt:
                return OpenedKycSession(verification_url=session.url or "", case=stored)  # a twin request won
            case = stored or KycCase.new(user_id, now)
            before = case.summary()
            case.open_session(session.session_id, attempt, now)
            if stored is None:
                await uow.kyc.add(case)
            else:
                await uow.kyc.save(case)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="kyc.session_opened",
                    subject_id=str(user_id),
                    before=before,
                    after={**case.summary(), "attempt": attempt},
                )
            )
            await uow.commit()
        return OpenedKycSession(verification_url=session.url or "", case=case)
