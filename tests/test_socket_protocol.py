"""server/socket_protocol.py: its inbox and flag behave as the asyncio.Queue and Event they
replace, what it assumes of uvicorn's protocol holds in the installed uvicorn, and a real
uvicorn serves websockets with it, the handshake's response dropped once written."""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path

import pytest
import uvicorn
from uvicorn.protocols.websockets import websockets_sansio_impl
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from server.socket_protocol import Flag, Inbox, SocketProtocol
from tests.servers import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


# -- the inbox and the flag -------------------------------------------------------------------


async def test_the_inbox_is_first_in_first_out_and_get_waits_for_a_put() -> None:
    inbox = Inbox()
    assert inbox.empty()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty() and inbox.qsize() == 2
    assert await inbox.get() == 1
    assert await inbox.get() == 2
    getter = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # the getter is waiting
    assert not getter.done()
    inbox.put_nowait(3)
    assert await getter == 3
    assert inbox.empty()


async def test_a_cancelled_get_takes_nothing_and_passes_its_wake_on() -> None:
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # both wait, first in line
    inbox.put_nowait("item")  # wakes the first...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == "item"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert inbox.empty()


async def test_a_set_flag_lets_wait_return_without_suspending() -> None:
    flag = Flag()
    flag.set()
    step = flag.wait()
    with pytest.raises(StopIteration):
        step.send(None)  # returned in the first step: no suspension


async def test_a_cleared_flag_suspends_wait_on_a_future_until_set() -> None:
    flag = Flag()
    assert not flag.is_set()
    step = flag.wait()
    assert isinstance(step.send(None), asyncio.Future)  # what asgi_socket.Pending awaits
    step.close()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True]
    flag.clear()
    assert not flag.is_set()


# -- what it assumes of uvicorn ---------------------------------------------------------------


def test_uvicorns_protocol_uses_only_what_the_inbox_and_flag_offer() -> None:
    source = inspect.getsource(websockets_sansio_impl)
    assert set(re.findall(r"self\.queue\.(\w+)", source)) <= {"put_nowait", "get", "empty"}
    assert set(re.findall(r"self\.writable\.(\w+)", source)) <= {"set", "clear", "wait"}


def test_uvicorn_reads_the_handshake_response_only_until_keepalive_starts() -> None:
    protocol = websockets_sansio_impl.WebSocketsSansIOProtocol
    source = inspect.getsource(protocol)
    # The response is read in handle_connect and in send until the one call that starts the
    # keepalive, right after the handshake's response is written.
    connect_source = inspect.getsource(protocol.handle_connect)
    send_source = inspect.getsource(protocol.send)
    outside = source.replace(connect_source, "").replace(send_source, "")
    assert "self.response" not in outside
    assert source.count("self.start_keepalive()") == 1
    before, after = send_source.split("self.start_keepalive()")
    assert "self.conn.send_response(self.response)" in before
    assert "self.response" not in after


def test_castimer_serve_and_the_procfile_run_this_protocol() -> None:
    cli = (ROOT / "server" / "cli.py").read_text()
    assert 'ws="server.socket_protocol:SocketProtocol"' in cli
    assert "--ws server.socket_protocol:SocketProtocol" in (ROOT / "Procfile").read_text()


# -- on a real uvicorn ------------------------------------------------------------------------


async def test_a_real_uvicorn_serves_websockets_with_it() -> None:
    seen: dict = {}

    async def app(scope: dict, receive, send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        protocol = send.__self__
        seen["protocol"] = protocol
        if scope["path"] == "/refused":
            await send({"type": "websocket.close"})
            return
        await send({"type": "websocket.accept"})
        seen["response_after_accept"] = hasattr(protocol, "response")
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                seen["disconnect"] = message["code"]
                return
            await send({"type": "websocket.send", "text": message["text"].upper()})

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws=SocketProtocol,
                            ws_per_message_deflate=False, ws_max_size=64, log_level="warning",
                            lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("uvicorn did not start")
        await asyncio.sleep(0.02)
    try:
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            for word in ("one", "two", "three"):
                await client.send(word)
            assert [await client.recv() for _ in range(3)] == ["ONE", "TWO", "THREE"]
            protocol = seen["protocol"]
            assert isinstance(protocol, SocketProtocol)
            assert isinstance(protocol.queue, Inbox) and isinstance(protocol.writable, Flag)
            assert not seen["response_after_accept"]
            await client.send("x" * 65)  # over ws_max_size: uvicorn closes with 1009
            await client.wait_closed()
            assert client.close_code == 1009
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port}/refused"):
                pass
        assert refused.value.response.status_code == 403
    finally:
        server.should_exit = True
        await task
    assert seen["disconnect"] == 1009
