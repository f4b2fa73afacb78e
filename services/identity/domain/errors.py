"""Identity's own refusals."""

from __future__ import annotations

from libs.domain.errors import DomainError, Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Wrong password and unknown email alike: one message, so the answer reveals nothing."""

    def __init__(self) -> None:
        super().__init__("email or password is wrong", reason="INVALID_CREDENTIALS")


class TooManyAttempts(DomainError):
    """Throttled: the servicer answers RESOURCE_EXHAUSTED with retry_after_seconds in ErrorInfo."""

    reason = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"too many attempts; retry in {retry_after_seconds} seconds",
            reason="TOO_MANY_ATTEMPTS",
            retry_after_seconds=str(retry_after_seconds),
        )
        self.retry_after_seconds = retry_after_seconds
