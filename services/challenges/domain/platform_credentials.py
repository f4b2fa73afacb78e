"""The trader's trading-platform password, kept sealed until they reveal it once (ADR 0045).

The password arrives from the platform at provisioning and is stored only as an envelope (sealed by the
application through its port; this module never sees the plain text). The first reveal by the account's trader is
recorded (when, from where); the same trader may reveal it again within a short window after that first reveal,
so a response lost by a flaky client does not force a platform reset, and after the window it is erased. A password
never revealed is erased after the retention period. Once erased, every reveal is refused as gone, naming when it
was revealed (or that it expired) and what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from libs.domain.errors import FailedPrecondition

REVEALED = "revealed"
EXPIRED = "expired"


def sealing_context(account_id: UUID) -> str:
    """The envelope's associated data: a sealed password copied onto another account's row does not open."""
    return f"platform-password:{account_id}"


class CredentialsGone(FailedPrecondition):
    """The sealed password no longer exists (revealed, or expired unrevealed): the gateway answers 410 Gone."""

    def __init__(self, account_id: UUID, *, revealed_at: datetime | None, erased_at: datetime | None) -> None:
        if revealed_at is not None:
            message = (
                f"the platform password of account {account_id} was revealed at {revealed_at.isoformat()} and is "
                "no longer kept; reset your password on the trading platform"
            )
        elif erased_at is not None:
            message = (
                f"the platform password of account {account_id} was never revealed and was erased at "
                f"{erased_at.isoformat()}; reset your password on the trading platform"
            )
        else:
            message = (
                f"no platform password is kept for account {account_id} (it was emailed when the account was "
                "created); reset your password on the trading platform"
            )
        metadata = {"account_id": str(account_id)}
        if revealed_at is not None:
            metadata["revealed_at"] = revealed_at.isoformat()
        if erased_at is not None:
            metadata["erased_at"] = erased_at.isoformat()
        super().__init__(message, reason="CREDENTIALS_GONE", **metadata)


class CredentialsNotReady(FailedPrecondition):
    """The account is still being created on the platform: there is nothing to reveal yet."""

    def __init__(self, account_id: UUID) -> None:
        super().__init__(
            f"account {account_id} is still being created on the trading platform; try again in a moment",
            reason="CREDENTIALS_NOT_READY",
            account_id=str(account_id),
        )


@dataclass
class SealedPlatformCredentials:
    account_id: UUID
    user_id: str
    login: str
    password_sealed: str | None
    sealed_at: datetime
    revealed_at: datetime | None = None
    revealed_ip: str | None = None
    reveal_count: int = 0
    erased_at: datetime | None = None
    erased_reason: str | None = None

    @property
    def erased(self) -> bool:
        return self.password_sealed is None

    def window_closed(self, now: datetime, window: timedelta) -> bool:
        """True when the first reveal was longer ago than the re-reveal window (a zero window: at once)."""
        return self.revealed_at is not None and now - self.revealed_at >= window

    def reveal(self, now: datetime, ip: str | None, window: timedelta) -> bool:
        """Record a reveal and answer whether it repeats an earlier one; refuse as gone after erasure or the window.

        The caller erases (`erase`) a row whose window closed before refusing, so the refusal also removes it."""
        if self.erased or self.window_closed(now, window):
            raise self.gone()
        repeat = self.revealed_at is not None
        if not repeat:
            self.revealed_at = now
            self.revealed_ip = ip
        self.reveal_count += 1
        return repeat

    def gone(self) -> CredentialsGone:
        return CredentialsGone(self.account_id, revealed_at=self.revealed_at, erased_at=self.erased_at)

    def erase(self, now: datetime, reason: str) -> None:
        if reason not in (REVEALED, EXPIRED):
            raise ValueError(f"unknown erasure reason {reason!r}")
        if self.erased:
            return
        self.password_sealed = None
        self.erased_at = now
        self.erased_reason = reason
