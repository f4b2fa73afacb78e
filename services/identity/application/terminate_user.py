"""Command: close an account for good (admin, with a reason): sessions revoked, tokens refused (403)."""

from __future__ import annotations

from collections.abc import Callable

from libs.domain.clock import Clock
from services.identity.application.account_status import ChangeAccountStatus, change_account_status
from services.identity.application.ports import IdentityUnitOfWork, Revocations
from services.identity.domain.user import User

TerminateUser = ChangeAccountStatus


class TerminateUserHandler:
    def __init__(self, uow: Callable[[], IdentityUnitOfWork], clock: Clock, revocations: Revocations) -> None:
        self._uow = uow
        self._clock = clock
        self._revocations = revocations

    async def __call__(self, cmd: TerminateUser) -> User:
        return await change_account_status(
            self._uow,
            self._clock,
            self._revocations,
            cmd,
            action="terminate",
            revocation_reason="terminated",
            revoke_sessions=True,
        )
