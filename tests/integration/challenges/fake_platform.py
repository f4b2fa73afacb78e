"""A YourPropFirm client API on the documented wire contract, in process, until the devstack's simulator lands.

It honours `Idempotency-Key` (a repeated key gets the first answer), checks `X-Client-Key`, answers 409 for an email
registered under another key, and misbehaves on request (`fail_next` 503s) so the client's retries are tested.
Our real client (httpx + tenacity) talks to it through httpx's ASGI transport.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CLIENT_KEY = "ypf-test-client-key"


@dataclass
class FakePlatform:
    users: dict[str, str] = field(default_factory=dict)  # email -> user id
    accounts: dict[str, dict] = field(default_factory=dict)  # account id -> account
    replies: dict[str, tuple[int, dict]] = field(default_factory=dict)  # idempotency key -> first answer
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, idempotency key)
    fail_next: int = 0

    def app(self) -> Starlette:
        async def create_user(request: Request) -> JSONResponse:
            return await self._handle(request, self._create_user)

        async def create_account(request: Request) -> JSONResponse:
            return await self._handle(request, self._create_account)

        return Starlette(
            routes=[
                Route("/client/v1/users", create_user, methods=["POST"]),
                Route("/client/v1/users/{user_id}/accounts", create_account, methods=["POST"]),
            ]
        )

    async def _handle(self, request: Request, action) -> JSONResponse:
        key = request.headers.get("idempotency-key", "")
        self.requests.append((request.url.path, key))
        if request.headers.get("x-client-key") != CLIENT_KEY:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        if key and key in self.replies:
            status, body = self.replies[key]
            return JSONResponse(body, status_code=status)
        status, body = action(request.path_params, await request.json())
        if key and status < 500:
            self.replies[key] = (status, body)
        return JSONResponse(body, status_code=status)

    def _create_user(self, _params: dict, body: dict) -> tuple[int, dict]:
        email = body["email"]
        if email in self.users:
            return 409, {"error": "email already registered", "id": self.users[email]}
        user_id = f"ypf-user-{secrets.token_hex(4)}"
        self.users[email] = user_id
        return 201, {"id": user_id}

    def _create_account(self, params: dict, body: dict) -> tuple[int, dict]:
        if params["user_id"] not in self.users.values():
            return 404, {"error": "no such user"}
        account_id = f"ypf-acct-{secrets.token_hex(4)}"
        account = {
            "id": account_id,
            "login": f"DF{len(self.accounts) + 100000}",
            "password": secrets.token_urlsafe(9),
            "userId": params["user_id"],
            "balance": body.get("balance"),
        }
        self.accounts[account_id] = account
        return 201, account
