"""WebSocket /v1/ws: the signed-in user's live notices (risk updates, violations, account news). It is added to the
app with add_api_websocket_route, so the role matrix lists it at its path.

Authentication happens in the handshake: the access token comes as the second entry of the
Sec-WebSocket-Protocol header (`bearer, <token>`; the server answers with the `bearer` subprotocol, since browsers
cannot set an Authorization header on a WebSocket) or as a `token` query parameter. It is verified like any bearer
token (signature, expiry, revocation); without a valid one the socket is closed with 4401 before anything is sent.

Each connection subscribes to the user's Redis pub/sub channel `notifications:user:<user_id>`, which the services
publish to, so every gateway replica serves its own clients. Risk updates are throttled per account to at most
4 a second (the newest one wins; nothing older is sent after it); every other notice is sent as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from fastapi import WebSocket, WebSocketDisconnect

from libs.domain.errors import DomainError

log = logging.getLogger(__name__)
RISK_INTERVAL_SECONDS = 0.25  # 4 risk updates per second per account
CLOSE_UNAUTHENTICATED = 4401
SUBPROTOCOL = "bearer"


def _offered_token(websocket: WebSocket) -> tuple[str | None, bool]:
    """(token, offered as a subprotocol)."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if len(offered) >= 2 and offered[0].lower() == SUBPROTOCOL:
        return offered[1], True
    token = websocket.query_params.get("token")
    return (token.strip() if token else None), False


class RiskThrottle:
    """At most one risk update per account per interval; the newest pending one is sent when the interval ends."""

    def __init__(self, interval: float = RISK_INTERVAL_SECONDS, clock=time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last_sent: dict[str, float] = {}
        self.pending: dict[str, dict] = {}

    def offer(self, account_id: str, update: dict) -> bool:
        """True when the update may go now; otherwise it is kept (replacing an older pending one)."""
        now = self._clock()
        if now - self._last_sent.get(account_id, float("-inf")) >= self._interval:
            self._last_sent[account_id] = now
            self.pending.pop(account_id, None)
            return True
        self.pending[account_id] = update
        return False

    def due(self) -> list[dict]:
        now = self._clock()
        ready = [a for a in self.pending if now - self._last_sent.get(a, float("-inf")) >= self._interval]
        out = []
        for account_id in ready:
            self._last_sent[account_id] = now
            out.append(self.pending.pop(account_id))
        return out


async def live(websocket: WebSocket) -> None:
    token, as_subprotocol = _offered_token(websocket)
    # Accepted first, so a refusal reaches the client as close code 4401 with a reason (a refused handshake would
    # only be an HTTP 403 the browser does not show); nothing is sent before the token is verified.
    await websocket.accept(subprotocol=SUBPROTOCOL if as_subprotocol else None)
    if not token:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason="a bearer access token is required")
        return
    try:
        claims = await websocket.app.state.verifier.verify(token)
    except DomainError as refused:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=refused.message[:120])
        return
    channel = f"notifications:user:{claims.user_id}"
    pubsub = websocket.app.state.redis.pubsub()
    await pubsub.subscribe(channel)
    throttle = RiskThrottle()
    send_lock = asyncio.Lock()

    async def send(notice: dict) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(notice, sort_keys=True))

    async def relay() -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            try:
                notice = json.loads(message["data"])
            except (TypeError, ValueError):
                log.warning("unreadable notice on %s dropped", channel)
                continue
            if isinstance(notice, dict) and notice.get("type") == "risk" and notice.get("account_id"):
                if not throttle.offer(str(notice["account_id"]), notice):
                    continue
            await send(notice)

    async def flush() -> None:
        while True:
            await asyncio.sleep(RISK_INTERVAL_SECONDS / 5)
            for notice in throttle.due():
                await send(notice)

    async def until_closed() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # clients say nothing; this only notices the close

    tasks = [asyncio.create_task(relay()), asyncio.create_task(flush()), asyncio.create_task(until_closed())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()
        with contextlib.suppress(Exception):
            await websocket.close()
