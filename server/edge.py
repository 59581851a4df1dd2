"""The HTTP protocol at the edge: uvicorn's httptools protocol with limits on request heads.

uvicorn (httptools) has no cap on a request's head: a 40 MB Authorization header is buffered
whole, and a client that never finishes its head holds its connection open for ever. This
protocol refuses a head past `MAX_HEAD` bytes with 431 and closes, counting the bytes as they
arrive so no more than that is ever handed to the parser; closes a connection that has not
sent a complete head within `settings.HEADER_TIMEOUT` seconds of opening or of starting its
next request; and refuses new connections from an address that already has
`settings.HEADER_CONNECTIONS_PER_IP` connections open that have not yet sent a complete head.

`castimer serve` passes it to uvicorn; run uvicorn yourself with `--http server.edge:EdgeProtocol`.

This is the one module that knows uvicorn's internals. It relies on (tests/test_edge.py checks
each, and pyproject.toml pins the uvicorn versions it was checked with): `HttpToolsProtocol`
feeds every byte to its parser from `data_received`; the parser calls the protocol's own
`on_message_begin`, `on_headers_complete` and `on_message_complete`; it has `transport`,
`loop` and `client` set by `connection_made`; and a websocket upgrade moves the transport to
another protocol (`transport.set_protocol`)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from . import settings

#: Largest request head (request line and headers) read (bytes); also the most a chunked body
#: may spend on its framing and trailer fields beyond each chunk's allowance.
MAX_HEAD = 16 * 1024
_CHUNK_ALLOWANCE = 32

log = logging.getLogger("castimer.edge")

_REFUSAL = b"request headers must be at most 16 KiB in all"
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
              b"content-type: text/plain; charset=utf-8\r\n"
              b"content-length: " + str(len(_REFUSAL)).encode() + b"\r\n"
              b"connection: close\r\n\r\n" + _REFUSAL)

#: Connections sending a head, with when they began it (the event loop's clock): one sweep a
#: second closes the late ones, cheaper than a timer per request.
_heads: dict[EdgeProtocol, float] = {}
#: Connections that have not yet sent their first complete head, by client address.
_unproven: Counter[str] = Counter()
_swept_loop: asyncio.AbstractEventLoop | None = None


def _sweep(loop: asyncio.AbstractEventLoop) -> None:
    late = loop.time() - settings.HEADER_TIMEOUT
    for protocol, since in list(_heads.items()):
        if since <= late:
            protocol.head_too_slow()
    loop.call_later(min(1.0, settings.HEADER_TIMEOUT / 10), _sweep, loop)


class EdgeProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Bytes received since the last message ended (a head, or what will be one).
        self._head_bytes = 0
        self._in_body = False
        #: While a body is read: bytes given to the parser that were not body (chunk sizes,
        #: and a chunked body's trailer fields, which httptools would buffer whole).
        self._framing = 0
        self._heads_done = 0
        self._address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        global _swept_loop
        super().connection_made(transport)
        if _swept_loop is not self.loop:
            _swept_loop = self.loop
            _sweep(self.loop)
        address = self.client[0] if self.client else None
        cap = settings.HEADER_CONNECTIONS_PER_IP
        if cap and address is not None and _unproven[address] >= cap:
            log.info("%s has %d connections still sending their first request headers; "
                     "connection refused", address, cap)
            transport.close()
            return
        if address is not None:
            self._address = address
            _unproven[address] += 1
        _heads[self] = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        _heads.pop(self, None)
        self._prove()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            self._framing += len(data)
            super().data_received(data)
            if self._in_body and self._framing > MAX_HEAD and not self.transport.is_closing():
                log.info("%s sent over %d bytes of chunk framing and trailers; connection "
                         "closed", self._peer(), MAX_HEAD)
                self.transport.close()
        elif self._head_bytes + len(data) <= MAX_HEAD:
            self._head_bytes += len(data)
            super().data_received(data)
        else:
            self._near_the_limit(data)

    def _near_the_limit(self, data: bytes) -> None:
        """Feed no more than the head's allowance, then see whether it ended within it."""
        while data and not self.transport.is_closing():
            if self._in_body:
                super().data_received(data)
                return
            room = MAX_HEAD - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                super().data_received(data)
                return
            heads_done, self._head_bytes = self._heads_done, MAX_HEAD
            super().data_received(data[:room])
            data = data[room:]
            upgraded = self.transport.get_protocol()
            if upgraded is not self:  # a websocket, which reads the rest
                if data and isinstance(upgraded, asyncio.Protocol):
                    upgraded.data_received(data)
                return
            if self._heads_done == heads_done:
                log.info("%s sent request headers over %d bytes; answered 431",
                         self._peer(), MAX_HEAD)
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                return

    def on_body(self, body: bytes) -> None:
        self._framing -= len(body)
        super().on_body(body)

    def on_chunk_header(self) -> None:
        self._framing -= _CHUNK_ALLOWANCE  # a chunk's size line and its CRLF are its due

    def on_message_begin(self) -> None:
        super().on_message_begin()
        _heads.setdefault(self, self.loop.time())  # from connection_made, or a new request

    def on_headers_complete(self) -> None:
        self._heads_done += 1
        self._in_body, self._framing = True, 0
        _heads.pop(self, None)
        if self._address is not None:  # the first head: skip the call on later ones
            self._prove()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._head_bytes = 0
        super().on_message_complete()

    def head_too_slow(self) -> None:
        log.info("%s sent no complete request headers within %g s; connection closed",
                 self._peer(), settings.HEADER_TIMEOUT)
        _heads.pop(self, None)
        self.transport.close()

    def _peer(self) -> str:
        """The client's address, for the log (`_address` is kept only until its first head)."""
        return str(self.client[0]) if self.client else "a client"

    def _prove(self) -> None:
        """This connection has sent a complete head (or is gone): its address's count drops."""
        if self._address is not None:
            _unproven[self._address] -= 1
            if not _unproven[self._address]:
                del _unproven[self._address]
            self._address = None
