"""Command: rotate a refresh token. A spent token presented again revokes its whole family (the session)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import PermissionDenied, Unauthenticated
from services.identity.application.common import ClientInfo, SessionTokens, audit_entry, digest, new_opaque_token
from services.identity.application.ports import AccessTokenIssuer, IdentityUnitOfWork, Revocations
from services.identity.domain.sessions import REFRESH_TOKEN_LIFETIME, RefreshVerdict, RevokeReason, judge_refresh


@dataclass(frozen=True)
class RefreshSession:
    refresh_token: str
    client: ClientInfo


class RefreshSessionHandler:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        clock: Clock,
        issuer: AccessTokenIssuer,
        revocations: Revocations,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._issuer = issuer
        self._revocations = revocations

    async def __call__(self, cmd: RefreshSession) -> SessionTokens:
        now = self._clock.now()
        presented = digest(cmd.refresh_token or "")
        async with self._uow() as uow:
            token = await uow.sessions.get_refresh_token(presented)
            if token is None:
                raise Unauthenticated("unknown refresh token; sign in again", reason="REFRESH_TOKEN_INVALID")
            verdict = judge_refresh(token, now)
            if verdict is RefreshVerdict.REUSE_DETECTED:
                await uow.sessions.revoke(token.family_id, now, RevokeReason.REFRESH_REUSE.value)
                await uow.audit.append(
                    audit_entry(
                        at=now,
                        actor_id="anonymous",
                        actor_role="anonymous",
                        ip=cmd.client.ip,
                        action="session.refresh_token_reused",
                        subject_type="session",
                        subject_id=str(token.family_id),
                        after={"user_id": str(token.user_id), "revoked": "family"},
                    )
                )
                await self._revocations.revoke_session(token.family_id)
                await uow.commit()
                raise Unauthenticated(
                    "this refresh token was used already; the session is ended", reason="REFRESH_TOKEN_REUSED"
                )
            if verdict is not RefreshVerdict.ROTATE:
                raise Unauthenticated(f"refresh token {verdict.value}; sign in again", reason="REFRESH_TOKEN_INVALID")
            user = await uow.users.get(token.user_id)
            session = await uow.sessions.get(token.family_id)
            if user is None or session is None:
                raise Unauthenticated("unknown session; sign in again", reason="REFRESH_TOKEN_INVALID")
            if not user.may_sign_in:
                raise PermissionDenied(f"account {user.status.value}", reason="ACCOUNT_NOT_ACTIVE")
            await uow.sessions.mark_rotated(presented, now)
            refresh = new_opaque_token()
            # The family never outlives the sign-in that started it: rotation does not extend the session.
            expires_at = min(session.expires_at, now + REFRESH_TOKEN_LIFETIME)
            await uow.sessions.add_refresh_token(
                token_hash=digest(refresh),
                family_id=token.family_id,
                user_id=token.user_id,
                rotated_from=presented,
                issued_at=now,
                expires_at=expires_at,
            )
            access = await self._issuer.issue(
                user_id=user.user_id,
                role=user.role,
                session_id=session.session_id,
                amr=session.amr,
                mfa_at=session.mfa_at,
                now=now,
            )
            await uow.commit()
        return SessionTokens(
            session_id=session.session_id,
            access_token=access.token,
            access_token_expires_at=access.expires_at,
            refresh_token=refresh,
            refresh_token_expires_at=expires_at,
        )
