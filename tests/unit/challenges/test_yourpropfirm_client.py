"""The YourPropFirm client's behaviour on the wire, with httpx's MockTransport answering as the contract says."""

from __future__ import annotations

import json
from uuid import uuid4

import httpx
import pytest

from libs.domain.money import Money
from services.challenges.adapters.yourpropfirm.client import YourPropFirmClient
from services.challenges.application.ports import PlatformUnavailable

ACCOUNT = {"id": "acc-1", "login": "70000001", "password": "pw", "startingBalance": "50000.00"}


def client(handler) -> YourPropFirmClient:
    return YourPropFirmClient(
        "http://ypf.test", "key-1", attempts=3, backoff_seconds=0.001, transport=httpx.MockTransport(handler)
    )


async def open_account(ypf: YourPropFirmClient, size: str = "50000.00"):
    return await ypf.open_account(
        account_id=uuid4(),
        order_id=uuid4(),
        email="ada@example.com",
        program_id="eval-50k",
        account_size=Money.of(size),
        idempotency_prefix="account:abc",
    )


async def test_5xx_is_retried_with_the_same_idempotency_key_and_client_key():
    seen: list[tuple[str, str, str]] = []
    failures = {"/client/v1/users": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["idempotency-key"], request.headers["x-client-key"]))
        if failures.get(request.url.path, 0) > 0:
            failures[request.url.path] -= 1
            return httpx.Response(503, json={"error": "down"})
        if request.url.path == "/client/v1/users":
            return httpx.Response(201, json={"id": "user-1"})
        assert json.loads(request.content)["programId"] == "eval-50k"
        return httpx.Response(201, json=ACCOUNT)

    credentials = await open_account(client(handler))
    assert (credentials.user_id, credentials.account_id, credentials.login) == ("user-1", "acc-1", "70000001")
    assert seen == [
        ("/client/v1/users", "account:abc:user", "key-1"),
        ("/client/v1/users", "account:abc:user", "key-1"),
        ("/client/v1/users", "account:abc:user", "key-1"),
        ("/client/v1/users/user-1/accounts", "account:abc:account", "key-1"),
    ]


async def test_an_existing_email_opens_the_account_on_the_user_the_409_names():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/client/v1/users":
            return httpx.Response(409, json={"error": "exists", "userId": "user-9"})
        return httpx.Response(201, json=ACCOUNT)

    assert (await open_account(client(handler))).user_id == "user-9"


async def test_a_refusal_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(401, json={"error": "missing or invalid X-Client-Key"})

    with pytest.raises(PlatformUnavailable, match="401"):
        await open_account(client(handler))
    assert calls == ["/client/v1/users"]


async def test_a_platform_that_keeps_failing_gives_up_after_the_attempts():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(502)

    with pytest.raises(PlatformUnavailable, match="kept failing"):
        await open_account(client(handler))
    assert len(calls) == 3


async def test_an_account_of_another_size_than_the_rule_set_is_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/client/v1/users":
            return httpx.Response(201, json={"id": "user-1"})
        return httpx.Response(201, json={**ACCOUNT, "startingBalance": "100000.00"})

    with pytest.raises(PlatformUnavailable, match=r"starts at 50000\.00"):
        await open_account(client(handler))
