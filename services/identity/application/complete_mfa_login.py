"""Command: finish a sign-in with a TOTP code or a one-time recovery code.

The MFA token from Login is single-use and short-lived, and allows a few wrong codes before it dies; TOTP codes are
accepted once per time step (no replay within the minute).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, PermissionDenied, Unauthenticated
from services.identity.application.common import ClientInfo, SessionTokens, audit_entry, digest, load_user, open_session
from services.identity.application.ports import AccessTokenIssuer, IdentityUnitOfWork, LoginThrottle, SecretCipher
from services.identity.domain.errors import TooManyAttempts
from services.identity.domain.login_events import LoginEvent, LoginOutcome
from services.identity.domain.totp import matching_step, normalise_recovery_code


@dataclass(frozen=True)
class CompleteMfaLogin:
    mfa_token: str
    totp_code: str
    recovery_code: str
    client: ClientInfo


def totp_context(user_id) -> str:
    return f"totp:{user_id}"


def mfa_throttle_key(user_id) -> str:
    return f"mfa:{user_id}"


class CompleteMfaLoginHandler:
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

    async def __call__(self, cmd: CompleteMfaLogin) -> SessionTokens:
        if not cmd.totp_code and not cmd.recovery_code:
            raise InvalidArgument("a TOTP code or a recovery code is required", field="totp_code")
        now = self._clock.now()
        token_hash = digest(cmd.mfa_token or "")
        async with self._uow() as uow:
            challenge = await uow.mfa.get_challenge(token_hash)
            if challenge is None or not challenge.usable(now):
                raise Unauthenticated("this sign-in has expired; sign in again", reason="MFA_CHALLENGE_EXPIRED")
            user = await load_user(uow, challenge.user_id)
            if not user.may_sign_in:
                raise PermissionDenied(f"account {user.status.value}", reason="ACCOUNT_NOT_ACTIVE")
            # Wrong codes count per user across challenges: a password holder must not get fresh guesses by signing
            # in again (a correct password clears the password counter, never this one).
            throttle_key = mfa_throttle_key(user.user_id)
            wait = await self._throttle.retry_after(throttle_key, cmd.client.ip)
            if wait > 0:
                raise TooManyAttempts(wait)
            method = await self._check_factor(uow, cmd, challenge.user_id, now)
            if method is None:
                await self._throttle.record_failure(throttle_key, cmd.client.ip)
                await uow.mfa.count_challenge_failure(token_hash)
                await uow.login_history.record(
                    LoginEvent(
                        user_id=user.user_id,
                        occurred_at=now,
                        ip=cmd.client.ip,
                        user_agent=cmd.client.user_agent,
                        country=cmd.client.country or None,
                        outcome=LoginOutcome.BAD_MFA_CODE,
                    )
                )
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id=str(user.user_id),
                        actor_role=user.role.value,
                        ip=cmd.client.ip,
                        action="login.mfa_failed",
                        subject_id=str(user.user_id),
                    )
                )
                await uow.commit()  # the failed attempt counts even though the call fails
                raise Unauthenticated("the code is wrong", reason="INVALID_MFA_CODE")
            await self._throttle.clear_account(throttle_key)
            await uow.mfa.consume_challenge(token_hash, now)
            tokens = await open_session(
                uow, self._issuer, user, amr=(*challenge.amr, "otp"), mfa_at=now, client=cmd.client, now=now
            )
            await uow.login_history.record(
                LoginEvent(
                    user_id=user.user_id,
                    occurred_at=now,
                    ip=cmd.client.ip,
                    user_agent=cmd.client.user_agent,
                    country=cmd.client.country or None,
                    outcome=LoginOutcome.OK,
                )
            )
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=str(user.user_id),
                    actor_role=user.role.value,
                    ip=cmd.client.ip,
                    action="login.succeeded",
                    subject_id=str(user.user_id),
                    after={"factor": method, "session_id": str(tokens.session_id)},
                )
            )
            await uow.commit()
        return tokens

    async def _check_factor(self, uow: IdentityUnitOfWork, cmd: CompleteMfaLogin, user_id, now) -> str | None:
        if cmd.totp_code:
            enrolment = await uow.mfa.get_totp(user_id, for_update=True)
            if enrolment is None or enrolment.confirmed_at is None:
                return None
            secret = self._cipher.decrypt_text(enrolment.secret_ciphertext, context=totp_context(user_id))
            step = matching_step(secret, cmd.totp_code, now, enrolment.last_used_step)
            if step is None:
                return None
            await uow.mfa.record_totp_step(user_id, step)
            return "totp"
        code = normalise_recovery_code(cmd.recovery_code)
        if code and await uow.mfa.use_recovery_code(user_id, digest(code), now):
            return "recovery_code"
        return None
