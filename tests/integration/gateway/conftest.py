"""The gateway in-process (its real lifespan: real Redis, real gRPC channels) in front of the canned gRPC peer,
with a verifier that trusts the test's own ES256 key. Requests go through httpx's ASGI transport."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.platform.redis import create_redis
from tests.integration.gateway.fake_upstream import FakeUpstream
from tests.unit.gateway.tokens import TestKeys

CLIENT_SOCKET = ("198.51.100.7", 40000)


@pytest.fixture(scope="module")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="module")
async def upstream():
    peer = FakeUpstream()
    await peer.start()
    yield peer
    await peer.stop()


def gateway_settings(redis_url: str, target: str, **overrides) -> GatewaySettings:
    fields = {
        "identity_target": target,
        "challenges_target": target,
        "rules_target": target,
        "payouts_target": target,
        "upstream_timeout_seconds": 5,
        "stripe_webhook_secret": "whsec_test",
        **overrides,
    }
    return GatewaySettings(REDIS_URL=redis_url, **fields)


async def running_gateway(settings: GatewaySettings, keys: TestKeys):
    app = create_app(settings, jwks_source=keys.jwks_source)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=CLIENT_SOCKET)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            client.app = app  # the route table, for tests that enumerate it
            yield client


@pytest.fixture(scope="module")
async def http(redis_url, upstream, keys):
    async for client in running_gateway(gateway_settings(redis_url, upstream.target), keys):
        yield client


@pytest.fixture(scope="module")
async def redis(redis_url):
    client = create_redis(redis_url)
    yield client
    await client.aclose()
