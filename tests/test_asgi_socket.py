"""What server/asgi_socket.py assumes of the installed uvicorn, checked on a real uvicorn with
the websockets protocol `castimer serve` uses: if an upgrade breaks an assumption, this fails
(not the hub, silently slower or unable to drop a stalled client)."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest
import uvicorn
from packaging.requirements import Requirement

from server import asgi_socket
from server.socket_protocol import SocketProtocol
from tests.servers import free_port
from tests.ws.test_slow_viewer import stalled_client

pytestmark = pytest.mark.anyio

FRAME = "x" * 65536


def test_uvicorn_is_a_version_the_adapter_was_checked_with() -> None:
    [pin] = [Requirement(r) for r in importlib.metadata.requires("castimer") or []
             if Requirement(r).name == "uvicorn"]
    assert pin.specifier.contains(uvicorn.__version__), (pin, uvicorn.__version__)


def test_without_the_servers_send_nothing_can_be_aborted() -> None:
    async def fallback(message: dict) -> None: ...

    assert asgi_socket.socket_of({"type": "websocket"}, fallback) == (fallback, None)


async def test_uvicorn_writes_at_once_until_the_buffer_is_full_and_aborts_on_demand() -> None:
    seen: dict = {}
    done = asyncio.Event()

    async def endpoint(scope: dict, receive, send) -> None:
        try:
            await steps(scope, receive, send)
        finally:
            done.set()

    async def steps(scope: dict, receive, send) -> None:
        await receive()  # websocket.connect
        raw_send, abort = asgi_socket.socket_of(scope, send)
        seen["abort"] = abort
        await raw_send({"type": "websocket.accept"})
        seen["small"] = asgi_socket.write_now(raw_send, {"type": "websocket.send", "text": "hi"})
        # The client never reads: frames are written at once until the transport pauses.
        for n in range(1000):
            pending = asgi_socket.write_now(raw_send, {"type": "websocket.send", "text": FRAME})
            if pending is not None:
                seen["written_before_pause"], seen["pending"] = n, pending
                break
        transport = abort.__self__
        seen["buffered"] = transport.get_write_buffer_size()
        abort()
        seen["closing"] = transport.is_closing()
        try:
            await asyncio.wait_for(pending.finish(), 5)
            seen["finished"] = "returned"
        except Exception as exc:  # uvicorn's ClientDisconnected once the connection is lost
            seen["finished"] = type(exc).__name__

    port = free_port()
    config = uvicorn.Config(asgi_socket.KeepRawSend(endpoint), host="127.0.0.1", port=port,
                            ws=SocketProtocol, ws_per_message_deflate=False,
                            log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # uvicorn could not start (raises), or stopped at once
            raise AssertionError("uvicorn did not start")
        await asyncio.sleep(0.02)
    client = await asyncio.to_thread(stalled_client, f"127.0.0.1:{port}", "/")
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        client.close()
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 3)
        except TimeoutError:  # a server that cannot drop the connection: do not wait for it
            server.force_exit = True
            await task
    assert isinstance(seen["abort"].__self__, asyncio.Transport)  # the protocol's transport
    assert seen["small"] is None  # written in the one step, no task needed
    assert seen["written_before_pause"] >= 1
    assert isinstance(seen["pending"], asgi_socket.Pending)
    assert seen["buffered"] > 0 and seen["closing"]  # dropped with data unsent
    assert seen["finished"] == "ClientDisconnected"
