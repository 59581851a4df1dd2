"""`/ws/rundowns/{id}`: a rundown's viewers hear which timer the show is on.

The unguessable rundown id is the capability, as a timer's id is for its viewers. The socket
sends the public rundown (`commit.public_rundown`) first and after every committed change of it;
a page follows `current` by watching that timer on `/ws/timers/{id}`, and can keep the `next`
one's socket open beforehand, so the switch at an advance costs no round trip. Messages are
relayed from the rundown's channel as committed, newest first: one that a slow client has not
read yet is replaced by the next (conflation), so nothing queues on the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import commit, metrics, rundowns, settings
from .clock import now_ms
from .engines.base import EngineUnavailable, Store, rundown_channel
from .ws import CLOSE_NOT_FOUND, CLOSE_POLICY, CLOSE_UNAVAILABLE

CLOSE_DELETED = 4410


def _message(rundown: dict[str, Any] | None, server_time: int,
             events: list[str] | None = None) -> str:
    if rundown is None:
        return orjson.dumps({"type": "deleted", "server_time": server_time}).decode()
    return orjson.dumps({"type": "rundown", "rundown": rundown, "events": events or [],
                         "server_time": server_time}).decode()


async def follow(websocket: WebSocket) -> None:
    hub = websocket.state.hub
    engine = hub.engine
    ip = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    if hub.connections_by_ip[ip] >= settings.WS_MAX_CONNECTIONS_PER_IP:
        await websocket.close(CLOSE_POLICY, "too many connections from this address")
        return
    hub.connections_by_ip[ip] += 1
    metrics.VIEWERS.inc()
    rundown_id = websocket.path_params["rundown_id"]
    channel = rundown_channel(rundown_id)
    latest: list[bytes | None] = []  # the newest message not yet sent; None: reload
    ready = asyncio.Event()

    def receive(message: bytes) -> None:
        latest[:] = [message or None]  # an empty message: some may have been missed
        ready.set()

    subscribed = False
    try:
        await engine.subscribe(channel, receive)
        subscribed = True
        await _relay(websocket, engine, rundown_id, latest, ready)
    except EngineUnavailable:
        await _close(websocket, CLOSE_UNAVAILABLE, "the timer store is unreachable; "
                                                   "reconnect shortly")
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the viewer left
    finally:
        if subscribed:
            await engine.unsubscribe(channel, receive)
        metrics.VIEWERS.dec()
        hub.connections_by_ip[ip] -= 1
        if hub.connections_by_ip[ip] <= 0:
            del hub.connections_by_ip[ip]


async def _relay(websocket: WebSocket, engine: Store, rundown_id: str,
                 latest: list[bytes | None], ready: asyncio.Event) -> None:
    raw = await engine.get_rundown(rundown_id)
    if raw is None:
        await _close(websocket, CLOSE_NOT_FOUND, "no such rundown")
        return
    await websocket.send_text(_message(commit.public_rundown(rundowns.load(raw)), now_ms()))
    gone = asyncio.ensure_future(_until_gone(websocket))
    try:
        while True:
            woken = asyncio.ensure_future(ready.wait())
            await asyncio.wait({gone, woken}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                woken.cancel()
                return
            ready.clear()
            message = latest.pop() if latest else None
            if message is None:
                raw = await engine.get_rundown(rundown_id)
                shown = commit.public_rundown(rundowns.load(raw)) if raw else None
                text = _message(shown, now_ms())
            else:
                sent = orjson.loads(message)
                shown = sent["rundown"]
                text = _message(shown, sent["server_time"], sent["events"])
            await websocket.send_text(text)
            if shown is None:
                await _close(websocket, CLOSE_DELETED, "the rundown was deleted")
                return
    finally:
        gone.cancel()


async def _until_gone(websocket: WebSocket) -> None:
    """Read (and ignore) what the viewer sends until it leaves; too much is a close."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text") or ""
        if len(text) > settings.WS_MAX_MESSAGE:
            await _close(websocket, 1009, "frames must be small")
            return


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code, reason)
    except (OSError, RuntimeError):
        pass  # already gone
