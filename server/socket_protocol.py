"""uvicorn's sans-I/O websockets protocol, lighter per connection: what every open socket (a
viewer is idle for hours) holds for its whole life.

A profile of 2,000 idle viewers (docs/performance.md, Fan-out) found three things of uvicorn's
`WebSocketsSansIOProtocol` that cost ~5 KB a connection and do nothing once it is open:

* its inbound `asyncio.Queue`: four deques and an `asyncio.Event` (~3.1 KB), for a queue that
  holds a message or two (uvicorn stops reading a socket while one waits);
* its `writable` `asyncio.Event`, with the deque an Event allocates for waiters (~0.8 KB),
  though only a send on a paused transport ever waits on it;
* the handshake's response (its headers, ~1.4 KB), which it keeps though it never reads it
  after writing it. (It keeps the parsed request too, but so does websockets' parser, a
  local of a generator that lives as long as the connection: dropping uvicorn's reference
  would free nothing.)

This protocol is uvicorn's with those three replaced; nothing else changes: frames, limits
(`ws_max_size`), keepalive pings and closes are uvicorn's. `castimer serve` and the Procfile
run it (`--ws server.socket_protocol:SocketProtocol`). It relies on the uvicorn versions
pyproject.toml pins: the protocol uses only `put_nowait`, `get` and `empty` of its queue and
`set`, `clear` and `wait` of `writable`, and reads `response` only in `handle_connect` and in
`send` until it calls `start_keepalive`, once, right after writing the handshake's response.
tests/test_socket_protocol.py checks each point.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class Inbox:
    """What uvicorn uses of `asyncio.Queue` (`put_nowait`, `get`, `empty`), with the same
    semantics (first in, first out; a cancelled `get` takes nothing and passes its turn on),
    on a list and a list of waiting futures made when one waits."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it was not done
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # it was woken for an item it will not take
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class Flag:
    """What uvicorn uses of `asyncio.Event` (`set`, `clear`, `wait`, and `is_set`), with its
    semantics, on a list of waiting futures made when one waits. `wait` on a set flag returns
    without suspending, as the hub's `asgi_socket.write_now` needs of uvicorn's `send`."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            for waiter in self._waiters or ():
                if not waiter.done():
                    waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters.remove(waiter)


class SocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        writable = Flag()
        writable.set()
        self.writable = writable  # type: ignore[assignment]

    def start_keepalive(self) -> None:
        # Called once, just after the handshake's response was written: nothing reads the
        # response after that.
        del self.response
        super().start_keepalive()
