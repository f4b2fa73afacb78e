"""Domain errors: one class per kind of refusal, each with a machine-readable reason.

The gRPC interceptor (libs/platform/grpc_errors.py) maps these to status codes with google.rpc.ErrorInfo;
the gateway maps the codes to HTTP problem documents. Business checks raise these, never `assert`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected refusal. `reason` is an ErrorReason name without its prefix."""

    reason = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, reason: str | None = None, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = {k: str(v) for k, v in metadata.items()}


class InvalidArgument(DomainError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str, reason: str | None = None, **metadata: str) -> None:
        super().__init__(message, reason=reason, field=field, **metadata)
        self.field = field


class NotFound(DomainError):
    reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    reason = "FAILED_PRECONDITION"


class InvalidTransition(FailedPrecondition):
    """A state machine was asked for a transition its table does not allow."""

    def __init__(self, entity: str, current: str, requested: str) -> None:
        super().__init__(
            f"{entity} cannot go from {current} to {requested}",
            reason="FAILED_PRECONDITION",
            current_state=current,
            requested_state=requested,
        )


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class ConcurrencyConflict(DomainError):
    reason = "CONCURRENCY_CONFLICT"
