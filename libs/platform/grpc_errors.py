"""One server interceptor turns every exception into a gRPC status with google.rpc.ErrorInfo.

Domain errors map by class (table below); anything unexpected becomes INTERNAL and is logged with its trace, never
UNKNOWN. It also carries the request id and the caller's identity from metadata into context variables.

The caller's identity is the access token the gateway forwards (`authorization: Bearer <jwt>`), verified here again
(defence in depth: a service never trusts an unsigned header naming a user or role). No token means an anonymous
caller; a bad, expired or revoked token is refused before the servicer runs.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from libs.domain import errors
from libs.platform.auth import Claims, TokenVerifier, bearer_token
from libs.platform.logging import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger(__name__)

ERROR_DOMAIN_SUFFIX = "dynasty-futures.com"

# Most specific first: InvalidTransition is a FailedPrecondition, and so on.
STATUS_BY_ERROR: list[tuple[type[errors.DomainError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.ConcurrencyConflict, grpc.StatusCode.ABORTED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.DomainError, grpc.StatusCode.FAILED_PRECONDITION),
]
# ErrorInfo.metadata key of a throttled refusal: whole seconds until a retry may succeed (the gateway's Retry-After).
RETRY_AFTER_KEY = "retry_after_seconds"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the subject and role of the verified access token (or anonymous), and the client IP."""

    actor_id: str
    role: str
    ip: str | None
    claims: Claims | None = None  # the verified token's claims; None for an anonymous caller


AUTHORIZATION_HEADER = "authorization"
CLIENT_IP_HEADER = "x-dynasty-client-ip"
USER_AGENT_HEADER = "x-dynasty-user-agent"
COUNTRY_HEADER = "x-dynasty-country"
ANONYMOUS = Caller(actor_id="anonymous", role="anonymous", ip=None)
caller_var: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("caller", default=None)


def current_caller() -> Caller:
    return caller_var.get() or ANONYMOUS


def build_status(exc: BaseException, service: str) -> status_pb2.Status:
    code = grpc.StatusCode.INTERNAL
    reason, message, metadata = "INTERNAL", "internal error; it has been logged", {}
    if isinstance(exc, errors.DomainError):
        code = next(c for cls, c in STATUS_BY_ERROR if isinstance(exc, cls))
        reason, message, metadata = exc.reason, exc.message, exc.metadata
        if RETRY_AFTER_KEY in metadata:
            # A refusal that says when to come back is throttling (login attempts), whatever its class.
            code = grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_details_pb2.ErrorInfo(reason=reason, domain=f"{service}.{ERROR_DOMAIN_SUFFIX}", metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=[detail])


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    # Only text headers are read from it; a binary ("-bin") header's bytes value is never looked up.
    return dict(context.invocation_metadata() or ())


async def identify_caller(md: dict[str, str], authenticator: TokenVerifier | None) -> Caller:
    """The caller named by the forwarded bearer token, verified; anonymous without one (or without a verifier).

    Raises Unauthenticated (bad, expired, revoked token) or PermissionDenied (suspended or terminated user).
    """
    ip = md.get(CLIENT_IP_HEADER) or None
    token = bearer_token(md.get(AUTHORIZATION_HEADER))
    if token is None or authenticator is None:
        return Caller(actor_id=ANONYMOUS.actor_id, role=ANONYMOUS.role, ip=ip)
    claims = await authenticator.verify(token)
    return Caller(actor_id=claims.user_id, role=claims.role, ip=ip, claims=claims)


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary-unary handler: request id and caller into context variables, errors into statuses.

    The wrapped handler is built once per method and cached: this must be the LAST interceptor of the server (its
    continuation is then the server's handler lookup, which gives the same handler for a method every time), so a
    call after the first costs one dictionary lookup here instead of awaiting the lookup and building a handler
    and a closure. Unknown methods (no handler) are not cached, so a caller cannot grow the cache.
    """

    def __init__(self, service: str, authenticator: TokenVerifier | None = None) -> None:
        self._service = service
        self._authenticator = authenticator
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        cached = self._handlers.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # unknown method: gRPC answers UNIMPLEMENTED
        if handler.unary_unary is not None:
            handler = self._guard(handler, method)
        # else streaming RPCs (health Watch, reflection) keep their own error handling: cached as they are
        self._handlers[method] = handler
        return handler

    def _guard(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary
        service = self._service
        authenticator = self._authenticator

        async def guarded(request, context: grpc.aio.ServicerContext):
            md = _metadata(context)
            request_id_var.set(md.get(REQUEST_ID_HEADER, "-"))
            try:
                if authenticator is None or AUTHORIZATION_HEADER not in md:
                    # No token to verify: what identify_caller returns, without a coroutine per call.
                    ip = md.get(CLIENT_IP_HEADER) or None
                    caller_var.set(ANONYMOUS if ip is None else Caller(ANONYMOUS.actor_id, ANONYMOUS.role, ip))
                else:
                    caller_var.set(ANONYMOUS)  # until the token is verified
                    caller_var.set(await identify_caller(md, authenticator))
                return await inner(request, context)
            except errors.DomainError as exc:
                log.info("%s refused: %s (%s)", method, exc.message, exc.reason)
                await context.abort_with_status(rpc_status.to_status(build_status(exc, service)))
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                log.exception("%s failed unexpectedly", method)
                await context.abort_with_status(rpc_status.to_status(build_status(exc, service)))

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """Read the ErrorInfo a service attached (for clients: the gateway, the CLI, tests)."""
    status = rpc_status.from_call(exc)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None
