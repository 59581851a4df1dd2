"""Websocket clients for tests: the `websockets` library against real servers."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.servers import Server


def ws_url(server: Server, path: str) -> str:
    return server.base.replace("http://", "ws://") + path


async def viewer(server: Server, timer_id: str, **options: Any) -> ClientConnection:
    return await connect(ws_url(server, f"/ws/timers/{timer_id}"), compression=None, **options)


async def presenter(server: Server, timer_id: str, auth: dict[str, Any] | None,
                    origin: str | None = None) -> ClientConnection:
    headers = {"Origin": origin} if origin else {}
    socket = await connect(ws_url(server, f"/ws/control/{timer_id}"), compression=None,
                           additional_headers=headers, max_size=None)
    if auth is not None:
        with contextlib.suppress(ConnectionClosed):  # refused before auth: the test reads why
            await socket.send(json.dumps({"type": "auth", **auth}))
    return socket


async def receive(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    import asyncio

    message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    message["_received"] = time.time() * 1000
    return message


async def until(socket: ClientConnection, kind: str, timeout: float = 5,
                **match: Any) -> dict[str, Any]:
    """The next message of `kind` whose fields match; others are skipped."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await receive(socket, max(0.01, left))
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message
