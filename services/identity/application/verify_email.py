"""Command: confirm an email address with the signed, expiring, single-use token from the mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from services.identity.application.common import audit_entry, load_user, parse_user_id
from services.identity.application.ports import IdentityUnitOfWork, LinkTokens
from services.identity.application.register import VERIFY_PURPOSE
from services.identity.domain.user import User


@dataclass(frozen=True)
class VerifyEmail:
    token: str
    ip: str | None = None


class VerifyEmailHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, link_tokens: LinkTokens) -> None:
        self._uow = uow
        self._clock = clock
        self._links = link_tokens

    async def __call__(self, cmd: VerifyEmail) -> User:
        now = self._clock.now()
        subject, token_id = self._links.open(cmd.token, purpose=VERIFY_PURPOSE, now=now)
        user_id = parse_user_id(subject, field="token")
        async with self._uow() as uow:
            user = await load_user(uow, user_id, for_update=True)
            if not await uow.verification_tokens.spend(token_id, user_id, now):
                raise FailedPrecondition("this link has been used already", reason="TOKEN_USED")
            if user.email_verified:
                raise FailedPrecondition("this email address is verified already", reason="ALREADY_VERIFIED")
            before = user.summary()
            try:
                user.verify_email(now)
            except FailedPrecondition:
                raise InvalidArgument("this account cannot be verified", field="token") from None
            await uow.users.save(user)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=str(user.user_id),
                    actor_role=user.role.value,
                    ip=cmd.ip,
                    action="user.email_verified",
                    subject_id=str(user.user_id),
                    before=before,
                    after=user.summary(),
                )
            )
            await uow.commit()
        return user
