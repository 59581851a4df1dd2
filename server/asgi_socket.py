"""The one module that knows how the ASGI server writes a websocket's frames to its socket: the
hub writes each tick to thousands of sockets without a task switch per socket, and drops a
client that stopped reading, and ASGI offers neither.

It relies on uvicorn's sans-I/O websockets protocol (as `castimer serve` and the Procfile run it,
`--ws server.socket_protocol:SocketProtocol`, which keeps how it writes), in the versions
pyproject.toml pins; tests/test_asgi_socket.py checks each point against the installed uvicorn:

* the `send` uvicorn gives a websocket's ASGI app is a bound method of its protocol object, and
  that object has the connection's asyncio `transport`, whose `abort()` drops the connection at
  once, unsent data and all (ASGI's close would wait for a full buffer to drain, for ever);
* that `send` returns without suspending while the transport takes writes (it awaits an
  `asyncio.Event` that is set), so stepping it once by hand writes the frame; it suspends, on a
  future, only while the transport is paused (its buffer above the high-water mark).

Under another server `socket_of` finds no transport: nothing can be aborted, and a send that
suspends on every write just gets a writer task each time: correct, only slower. The HTTP side
of uvicorn is extended in `server/edge.py`, with the same pin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Where `KeepRawSend` leaves the server's own `send` in a websocket's scope.
RAW_SEND = "castimer.raw_send"


class KeepRawSend:
    """ASGI middleware: keep the server's own `send` for websockets in the scope, before
    Starlette wraps it: `socket_of` needs its owner, and sending through it skips the wrapper
    layers on the hottest path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def socket_of(scope: Mapping[str, Any], fallback: Send) -> tuple[Send, Callable[[], None] | None]:
    """The server's own `send` for this websocket (or `fallback`) and what drops its
    connection at once, if the server lets that be found (None otherwise)."""
    send = scope.get(RAW_SEND) or fallback
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    return send, abort if callable(abort) else None


class Pending:
    """A send that suspended part way (the socket's buffer is full): `finish` carries it on."""

    __slots__ = ("_step", "_waiting")

    def __init__(self, step: Coroutine[Any, Any, None], waiting: Any) -> None:
        self._step, self._waiting = step, waiting

    async def finish(self) -> None:
        """Carry on the send as a task would: wait until what it yielded is done, resume it,
        until it returns. If this is cancelled the send is closed, leaving nothing behind."""
        try:
            await self._resume()
        finally:
            self._step.close()  # a no-op once it has returned

    async def _resume(self) -> None:
        step, waiting = self._step, self._waiting
        while True:
            if isinstance(waiting, asyncio.Future):
                await asyncio.wait((waiting,))
                try:
                    if waiting.cancelled():
                        waiting = step.throw(asyncio.CancelledError())
                    elif waiting.exception() is not None:
                        waiting = step.throw(waiting.exception())  # type: ignore[arg-type]
                    else:
                        waiting = step.send(None)
                except StopIteration:
                    return
            else:  # a bare yield (asyncio.sleep(0)): give the loop one turn
                await asyncio.sleep(0)
                try:
                    waiting = step.send(None)
                except StopIteration:
                    return


def write_now(send: Send, message: dict[str, Any]) -> Pending | None:
    """Send `message` by stepping `send` once, in this call: None when it is written (the
    common case under uvicorn), else the `Pending` rest of it. Raises what the send raises
    (uvicorn's ClientDisconnected once the client is gone)."""
    step: Coroutine[Any, Any, None] = send(message)  # type: ignore[assignment]
    try:
        waiting = step.send(None)
    except StopIteration:
        return None
    return Pending(step, waiting)
