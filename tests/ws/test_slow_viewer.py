"""A viewer that never reads delays no one, keeps a bounded buffer on the server, and is closed.

The server runs in this test's event loop (a real uvicorn on 127.0.0.1), so the test can look
at the hub's mailboxes and the stalled socket's transport buffer while it happens."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from server import accounts, settings
from server.app import app
from server.clock import now_ms
from server.engines import create_engine
from server.hub import broadcast
from server.socket_protocol import SocketProtocol
from tests.conftest import sqlite_url
from tests.servers import free_port

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def live_server(tmp_path, monkeypatch, ping: float) -> AsyncIterator[tuple[str, str]]:
    url = sqlite_url(tmp_path)
    monkeypatch.setattr(settings, "ENGINE", url)
    monkeypatch.setattr(settings, "WS_STALL_TIMEOUT", 2.0)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws=SocketProtocol,
                            ws_per_message_deflate=False, ws_ping_interval=ping,
                            ws_ping_timeout=ping, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    engine = create_engine(url)
    await engine.open()
    _, key = await accounts.key_for(engine, "slow-test", "enterprise", now_ms())
    await engine.close()
    try:
        yield f"127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        await task


async def countdown(address: str, key: str, running: bool) -> dict:
    async with httpx.AsyncClient(base_url=f"http://{address}/api/v1",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        timer = (await api.post("/timers", json={"type": "countdown", "duration": 60})).json()
        if running:
            await api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
    return dict(timer)


def stalled_client(address: str, path: str) -> socket.socket:
    """Open a websocket by hand with a tiny receive buffer, then never read again."""
    host, port = address.split(":")
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    raw.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(f"GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return raw


async def test_a_viewer_that_never_reads_delays_no_one_and_is_dropped(tmp_path, monkeypatch):
    async with live_server(tmp_path, monkeypatch, ping=60) as (address, key):
        timer = await countdown(address, key, running=True)
        hub = app.state.hub
        # In a thread: the server answering the handshake runs on this loop.
        slow = await asyncio.to_thread(stalled_client, address, f"/ws/timers/{timer['id']}")
        lateness: list[float] = []

        async def fast_viewer() -> None:
            async with connect(f"ws://{address}/ws/timers/{timer['id']}",
                               compression=None, max_size=None) as ws:
                async for text in ws:
                    message = json.loads(text)
                    if message["type"] == "tick":
                        lateness.append(time.time() * 1000 - message["server_time"])

        fast = [asyncio.create_task(fast_viewer()) for _ in range(3)]
        while len(hub.rooms.get(timer["id"], ()).viewers if timer["id"] in hub.rooms
                  else ()) < 4:
            await asyncio.sleep(0.02)
        room = hub.rooms[timer["id"]]
        # The stalled viewer is the one whose socket the test opened by hand: find it by the
        # transport's peer port.
        peer = slow.getsockname()[1]
        stalled = next(v for v in room.viewers
                       if v._abort is not None and v._abort.__self__.get_extra_info(
                           "peername")[1] == peer)
        transport = stalled._abort.__self__

        # Push ~20 MB of large state messages at every viewer of the room.
        filler = "x" * 60_000
        worst_buffer = 0
        for n in range(350):
            broadcast(room.viewers, {"type": "state", "v": 10_000 + n, "filler": filler})
            await asyncio.sleep(0.005)
            worst_buffer = max(worst_buffer, transport.get_write_buffer_size())
        assert stalled.sending_since > 0, "the stalled socket's writer should be blocked"
        # Conflation: the server holds one pending message for it, not the 350 offered, and
        # its transport buffer stays near the high-water mark.
        assert worst_buffer < 256 * 1024
        assert stalled._latest is None or len(stalled._latest) < 70_000

        began = time.monotonic()
        while stalled in room.viewers and time.monotonic() - began < 6:
            await asyncio.sleep(0.1)
        assert stalled not in room.viewers, "the stalled viewer should have been dropped"
        assert time.monotonic() - began < 4  # stall timeout 2 s, checked every second
        await asyncio.sleep(2.2)  # two more ticks for the fast viewers
        for task in fast:
            task.cancel()
        await asyncio.gather(*fast, return_exceptions=True)
        slow.close()
        assert len(lateness) >= 3 * 3
        assert max(lateness) < 150, lateness


async def test_an_idle_client_that_never_answers_pings_is_closed(tmp_path, monkeypatch):
    async with live_server(tmp_path, monkeypatch, ping=0.5) as (address, key):
        timer = await countdown(address, key, running=False)
        hub = app.state.hub
        silent = await asyncio.to_thread(stalled_client, address, f"/ws/timers/{timer['id']}")
        began = time.monotonic()
        while timer["id"] not in hub.rooms:
            await asyncio.sleep(0.02)
        while timer["id"] in hub.rooms and time.monotonic() - began < 5:
            await asyncio.sleep(0.05)
        assert timer["id"] not in hub.rooms  # closed by the keepalive ping timeout
        assert time.monotonic() - began < 3
        silent.close()
