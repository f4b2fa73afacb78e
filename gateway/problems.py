"""RFC 9457 problem documents, and the one table that maps gRPC status codes to HTTP statuses."""

from __future__ import annotations

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from libs.domain import errors
from libs.platform.grpc_errors import RETRY_AFTER_KEY, STATUS_BY_ERROR, error_info
from libs.platform.logging import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://docs.dynasty-futures.com/problems/"

HTTP_STATUS_BY_GRPC: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# A well-formed request whose content breaks a business validation (a rule set) is 422, not 400.
HTTP_STATUS_BY_REASON = {"INVALID_RULE_SET": 422}

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    501: "Not implemented",
    503: "Service unavailable",
    504: "Upstream timeout",
}


def problem(
    status: int,
    detail: str,
    *,
    reason: str,
    instance: str,
    extra: dict | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + reason.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "reason": reason,
        "request_id": request_id_var.get(),
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _challenge_headers(status: int, metadata: dict[str, str]) -> dict[str, str]:
    """401 says how to authenticate (RFC 6750); 429 says when to come back."""
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dynasty-api", error="invalid_token"'
    retry_after = metadata.get(RETRY_AFTER_KEY, "")
    if status == 429 and retry_after.isdigit():
        headers["Retry-After"] = retry_after
    return headers


async def grpc_error_handler(request: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
    info = error_info(exc)
    reason = info.reason if info is not None else exc.code().name
    status = HTTP_STATUS_BY_REASON.get(reason) or HTTP_STATUS_BY_GRPC.get(exc.code(), 500)
    extra = dict(info.metadata) if info is not None else {}
    detail = exc.details() or exc.code().name
    if status >= 500 and exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        detail = "internal error; it has been logged"  # never leak an upstream's internals to the browser
    headers = _challenge_headers(status, extra)
    return problem(status, detail, reason=reason, instance=request.url.path, extra=extra, headers=headers)


async def domain_error_handler(request: Request, exc: errors.DomainError) -> JSONResponse:
    """Refusals the gateway decides itself (authentication, authorization), mapped as the services map them."""
    code = next(c for cls, c in STATUS_BY_ERROR if isinstance(exc, cls))
    status = HTTP_STATUS_BY_GRPC.get(code, 400)
    headers = _challenge_headers(status, exc.metadata)
    return problem(
        status, exc.message, reason=exc.reason, instance=request.url.path, extra=dict(exc.metadata), headers=headers
    )


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body", "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    return problem(
        400,
        f"{first['field']}: {first['message']}",
        reason="INVALID_ARGUMENT",
        instance=request.url.path,
        extra={"errors": errors},
    )
