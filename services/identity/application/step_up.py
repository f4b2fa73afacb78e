"""Command: check a fresh TOTP code and issue an access token with a recent `mfa_at`, for payouts and payout-detail
changes. Throttled like a login (a six-digit code must not be guessable at request speed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, PermissionDenied, Unauthenticated
from services.identity.application.common import Actor, audit_entry, load_user, require_signed_in
from services.identity.application.complete_mfa_login import mfa_throttle_key, totp_context
from services.identity.application.ports import (
    AccessTokenIssuer,
    IdentityUnitOfWork,
    IssuedAccessToken,
    LoginThrottle,
    SecretCipher,
)
from services.identity.domain.errors import TooManyAttempts
from services.identity.domain.totp import matching_step


@dataclass(frozen=True)
class StepUp:
    actor: Actor
    totp_code: str


class StepUpHandler:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        clock: Clock,
        issuer: AccessTokenIssuer,
        cipher: SecretCipher,
        throttle: LoginThrottle,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._issuer = issuer
        self._cipher = cipher
        self._throttle = throttle

    async def __call__(self, cmd: StepUp) -> IssuedAccessToken:
        user_id = require_signed_in(cmd.actor)
        if not cmd.actor.session_id:
            raise Unauthenticated("step-up needs the session of a verified access token", reason="UNAUTHENTICATED")
        session_id = UUID(cmd.actor.session_id)
        key = mfa_throttle_key(user_id)  # the same count as sign-in codes: guesses add up wherever they are made
        wait = await self._throttle.retry_after(key, cmd.actor.ip)
        if wait > 0:
            raise TooManyAttempts(wait)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await load_user(uow, user_id)
            session = await uow.sessions.get(session_id)
            if session is None or not session.live or session.user_id != user_id:
                raise Unauthenticated("session ended; sign in again", reason="UNAUTHENTICATED")
            if not user.may_sign_in:
                raise PermissionDenied(f"account {user.status.value}", reason="ACCOUNT_NOT_ACTIVE")
            enrolment = await uow.mfa.get_totp(user_id, for_update=True)
            if enrolment is None or enrolment.confirmed_at is None:
                raise FailedPrecondition("enrol TOTP first", reason="TOTP_NOT_ENROLLED")
            secret = self._cipher.decrypt_text(enrolment.secret_ciphertext, context=totp_context(user_id))
            step = matching_step(secret, cmd.totp_code, now, enrolment.last_used_step)
            if step is None:
                await self._throttle.record_failure(key, cmd.actor.ip)
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id=cmd.actor.actor_id,
                        actor_role=cmd.actor.role,
                        ip=cmd.actor.ip,
                        action="mfa.step_up_failed",
                        subject_id=str(user_id),
                    )
                )
                await uow.commit()
                raise Unauthenticated("the code is wrong", reason="INVALID_MFA_CODE")
            await self._throttle.clear_account(key)
            await uow.mfa.record_totp_step(user_id, step)
            amr = session.amr if "otp" in session.amr else (*session.amr, "otp")
            await uow.sessions.set_mfa(session_id, amr, now)
            token = await self._issuer.issue(
                user_id=user_id, role=user.role, session_id=session_id, amr=amr, mfa_at=now, now=now
            )
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="mfa.step_up",
                    subject_id=str(user_id),
                )
            )
            await uow.commit()
        return token
