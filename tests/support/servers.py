"""Running an ASGI app (a stand-in, the gateway) on a real loopback socket inside a test, for clients such as the
Stripe SDK or httpx that must talk over the network."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from devstack.stack import free_port

__all__ = ["ServerThread", "free_port"]


class ServerThread:
    """`with ServerThread(app, port):` serves `app` with uvicorn on 127.0.0.1:port until the block ends."""

    def __init__(self, app: Any, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
