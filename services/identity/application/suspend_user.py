"""Command: suspend a user (admin, with a reason): every session revoked and every token refused (403) at once."""

from __future__ import annotations

from collections.abc import Callable

from libs.domain.clock import Clock
from services.identity.application.account_status import ChangeAccountStatus, change_account_status
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.user import User

SuspendUser = ChangeAccountStatus


class SuspendUserHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, revocations: Revocations) -> None:
        self._uow = uow
        self._clock = clock
        self._revocations = revocations

    async def __call__(self, cmd: SuspendUser) -> User:
        return await change_account_status(
            self._uow,
            self._clock,
            self._revocations,
            cmd,
            action="suspend",
            revocation_reason="suspended",
            revoke_sessions=True,
        )
