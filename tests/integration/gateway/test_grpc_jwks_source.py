"""The JWK Set fetched from identity over gRPC (GetJwks), as the gateway and every service fetch it: the real
GrpcJwksSource and TokenVerifier against the canned identity peer and real Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest

from libs.domain.errors import Unauthenticated
from libs.platform.auth import TokenVerifier
from libs.platform.auth_grpc import GrpcJwksSource
from tests.unit.gateway.tokens import TestKeys


def get_jwks_calls(upstream) -> int:
    return sum(1 for name, _, _ in upstream.identity.calls if name == "GetJwks")


async def test_tokens_verify_with_keys_fetched_over_grpc_once(upstream, redis):
    keys = TestKeys()
    upstream.identity.jwks = keys.jwks
    source = GrpcJwksSource(upstream.target)
    verifier = TokenVerifier(source, redis)
    try:
        before = get_jwks_calls(upstream)
        user_id = f"u-{uuid.uuid4().hex[:8]}"
        for _ in range(10):
            claims = await verifier.verify(keys.mint(user_id, "support", amr=("pwd", "otp")))
        assert (claims.user_id, claims.role, claims.has_mfa) == (user_id, "support", True)
        assert get_jwks_calls(upstream) == before + 1
    finally:
        await source.close()


async def test_made_up_key_ids_cannot_make_identity_answer_per_request(upstream, redis):
    upstream.identity.jwks = TestKeys().jwks
    source = GrpcJwksSource(upstream.target, min_interval_seconds=60)
    verifier = TokenVerifier(source, redis)
    try:
        before = get_jwks_calls(upstream)
        for _ in range(25):
            with pytest.raises(Unauthenticated):
                await verifier.verify(TestKeys().mint())  # a fresh unknown kid every time
        assert get_jwks_calls(upstream) - before == 1
    finally:
        await source.close()


async def test_a_reply_that_is_not_a_jwk_set_is_refused(upstream):
    upstream.identity.jwks = ["not", "a", "set"]
    source = GrpcJwksSource(upstream.target)
    try:
        with pytest.raises(ValueError, match="JWK Set"):
            await source()
    finally:
        await source.close()


async def test_the_gateway_fetches_identitys_keys_over_grpc_by_default(redis_url, upstream):
    from gateway.app import create_app
    from tests.integration.gateway.conftest import gateway_settings

    keys = TestKeys()
    upstream.identity.jwks = keys.jwks
    app = create_app(gateway_settings(redis_url, upstream.target))  # no test key source: production wiring
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            before = get_jwks_calls(upstream)
            for _ in range(5):
                reply = await client.get("/v1/me", headers={"Authorization": f"Bearer {keys.mint()}"})
                assert reply.status_code == 200, reply.text
            assert get_jwks_calls(upstream) == before + 1


async def test_without_identity_to_ask_for_keys_a_token_is_503_not_accepted(redis_url):
    from devstack.stack import free_port
    from gateway.app import create_app
    from tests.integration.gateway.conftest import gateway_settings

    app = create_app(gateway_settings(redis_url, f"127.0.0.1:{free_port()}", upstream_timeout_seconds=1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            reply = await client.get("/v1/me", headers={"Authorization": f"Bearer {TestKeys().mint()}"})
    assert reply.status_code in (503, 504), reply.text
