"""The image's health check (infra/docker/healthcheck.py) against real HTTP and gRPC servers."""

from __future__ import annotations

import http.server
import threading
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from infra.docker.healthcheck import main


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    def start(status: int) -> int:
        handler = type("Handler", (_Health,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    servers: list[http.server.ThreadingHTTPServer] = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def grpc_server():
    servers: list[grpc.Server] = []

    def start(status: health_pb2.HealthCheckResponse.ServingStatus) -> int:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        servicer = health.HealthServicer()
        servicer.set("", status)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop(grace=None)


def test_the_gateway_is_healthy_when_healthz_answers_200(http_server):
    port = http_server(200)
    assert main({"HEALTHCHECK_PROTOCOL": "http", "HEALTHCHECK_PORT": str(port)}) == 0


def test_the_gateway_is_unhealthy_when_healthz_answers_503(http_server):
    port = http_server(503)
    assert main({"HEALTHCHECK_PROTOCOL": "http", "HEALTHCHECK_PORT": str(port)}) == 1


def test_a_service_is_healthy_when_grpc_health_says_serving(grpc_server):
    port = grpc_server(health_pb2.HealthCheckResponse.SERVING)
    assert main({"HEALTHCHECK_PROTOCOL": "grpc", "HEALTHCHECK_PORT": str(port)}) == 0


def test_a_service_is_unhealthy_when_grpc_health_says_not_serving(grpc_server):
    port = grpc_server(health_pb2.HealthCheckResponse.NOT_SERVING)
    assert main({"HEALTHCHECK_PROTOCOL": "grpc", "HEALTHCHECK_PORT": str(port)}) == 1


def test_nothing_listening_is_unhealthy_for_both_protocols(unused_tcp_port):
    for protocol in ("http", "grpc"):
        assert main({"HEALTHCHECK_PROTOCOL": protocol, "HEALTHCHECK_PORT": str(unused_tcp_port)}) == 1


def test_an_unknown_protocol_is_a_configuration_error():
    assert main({"HEALTHCHECK_PROTOCOL": "tcp", "HEALTHCHECK_PORT": "1"}) == 2
