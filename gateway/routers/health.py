"""/healthz: this process answers. /readyz: every upstream service answers its health check as SERVING (each
service reports NOT_SERVING while its database does not answer) and Redis answers a PING."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the gateway process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _service_status(channel, deadline_seconds: float) -> str:
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=deadline_seconds
        )
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if reply.status == health_pb2.HealthCheckResponse.SERVING else "not serving (database?)"


@router.get("/readyz", summary="Readiness: every upstream service (and its database) and Redis answer")
async def readyz(request: Request) -> JSONResponse:
    upstreams = request.app.state.upstreams
    names = list(upstreams.channels)
    results = await asyncio.gather(*(_service_status(upstreams.channels[n], 2.0) for n in names))
    checks = dict(zip(names, results, strict=True))
    redis = request.app.state.redis
    if redis is not None:
        try:
            await asyncio.wait_for(redis.ping(), timeout=2.0)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )
