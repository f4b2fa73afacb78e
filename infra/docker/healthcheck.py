"""Container health check shared by every service in the image: `python -m infra.docker.healthcheck`.

The image runs the gateway (HTTP) or one of the gRPC services, chosen by its command, so the
check is chosen by the environment the task definition sets next to the command:
HEALTHCHECK_PROTOCOL=http asks GET /healthz, HEALTHCHECK_PROTOCOL=grpc asks the standard
grpc.health.v1 service for the server's overall status. Exit status 0 is healthy, 1 is not.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORT = 8080
TIMEOUT_SECONDS = 3.0


def http_is_healthy(port: int, path: str = "/healthz") -> bool:
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def grpc_is_healthy(port: int, service: str = "") -> bool:
    # Imported here so the HTTP check does not pay for loading grpc.
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    protocol = env.get("HEALTHCHECK_PROTOCOL", "http")
    port = int(env.get("HEALTHCHECK_PORT", str(DEFAULT_PORT)))
    if protocol == "http":
        healthy = http_is_healthy(port)
    elif protocol == "grpc":
        healthy = grpc_is_healthy(port)
    else:
        print(f"HEALTHCHECK_PROTOCOL must be http or grpc, not {protocol!r}", file=sys.stderr)
        return 2
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
