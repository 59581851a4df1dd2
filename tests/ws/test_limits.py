"""Socket limits that need a server of their own settings: connections per client address,
and no compression even when a client offers it."""

from __future__ import annotations

import contextlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key
from tests.ws.helpers import receive, ws_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def capped(tmp_path):
    server = Server(sqlite_url(tmp_path), tmp_path,
                    env={"CASTIMER_WS_MAX_CONNECTIONS_PER_IP": "3"}).start()
    key = make_key(server.engine_url)
    with client(server, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    yield server, timer
    server.stop()


async def test_connections_per_address_are_capped_and_freed_on_close(capped):
    server, timer = capped
    url = ws_url(server, f"/ws/timers/{timer['id']}")
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connect(url)) for _ in range(3)]
        for socket in held:
            assert (await receive(socket))["type"] == "snapshot"
        async with connect(url) as fourth:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(fourth)
            assert closed.value.rcvd.code == 1008
            assert "too many connections" in closed.value.rcvd.reason
        await held[0].close()
        import asyncio

        for _ in range(50):  # the server frees the slot once it sees the close
            try:
                async with connect(url) as again:
                    assert (await receive(again))["type"] == "snapshot"
                    break
            except (ConnectionClosed, AssertionError):
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the freed slot was never reusable")


async def test_compression_is_never_negotiated(capped):
    server, timer = capped
    async with connect(ws_url(server, f"/ws/timers/{timer['id']}"),
                       compression="deflate") as socket:
        await receive(socket)
        assert socket.response.headers.get("Sec-WebSocket-Extensions") is None
