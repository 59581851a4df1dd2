"""`timers.live(id)`: a timer's viewer socket as an async iterator of `LiveUpdate`s.

The server sends a snapshot on connect, a tick at every whole second while the timer runs and a
state message on every change. This end measures the offset between its clock and the
server's (pings, NTP-style, keeping the sample with the shortest round trip), so each update's
`remaining_ms` is the time left at the moment it is handed over, not at the server's
`server_time`. A dropped connection is reopened after a jittered, growing pause, and the stream
goes on from the fresh snapshot that the new connection starts with.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ._errors import APIConnectionError, NotFoundError
from ._models import Timer

#: A wall clock in epoch milliseconds (`time.time() * 1000` by default).
Clock = Callable[[], float]

CLOSE_NOT_FOUND = 4404
CLOSE_DELETED = 4410
#: Pings right after connecting (to settle the offset quickly), then one every PING_EVERY s.
FIRST_PINGS, FIRST_PING_GAP, PING_EVERY = 3, 0.5, 10.0
COUNTING = ("running", "overtime")


def _wall_ms() -> float:
    return time.time() * 1000


@dataclass(kw_only=True)
class LiveUpdate:
    """One message of the stream, with the timer as it stands after it."""

    type: str  # snapshot | tick | state | presence | deleted
    #: The newest state of the timer (public fields: no urls, no webhook settings).
    timer: Timer | None
    version: int
    #: The server's clock (epoch ms) when `timer`'s live fields were computed.
    server_time: int
    #: Time left when this update was handed over, the clock offset applied (negative in
    #: overtime); equal to timer.remaining_ms while the timer is not counting.
    remaining_ms: int
    #: The server's clock minus this machine's, as measured (ms).
    offset_ms: float
    #: The event of a state message (timer.paused, …), and every event of that commit.
    event: str | None = None
    events: list[str] = field(default_factory=list)
    #: Viewer sockets of the timer across the server's processes, once told.
    viewers: int | None = None
    #: True for the snapshot of a connection that replaced a lost one.
    resumed: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class LiveStream:
    """`async for update in stream` (or `async with stream:` to be sure the socket closes when
    you stop early). Ends after a `deleted` update; raises NotFoundError for an unknown timer,
    and APIConnectionError after `max_reconnects` failed reconnections in a row (default: it
    never gives up)."""

    def __init__(self, url: str, *, clock: Clock | None = None, backoff: float = 0.25,
                 max_backoff: float = 5.0, max_reconnects: int | None = None) -> None:
        self.url = url
        self._clock = clock or _wall_ms
        self.backoff, self.max_backoff, self.max_reconnects = backoff, max_backoff, max_reconnects
        self.offset_ms = 0.0
        #: Round trip of the best offset sample (ms); None until a pong came back.
        self.rtt_ms: float | None = None
        self.timer: Timer | None = None
        self.viewers: int | None = None
        self._updates = self._follow()

    def remaining_ms(self) -> int | None:
        """Time left now, from the newest state and the measured offset (None before the
        first snapshot): call it every frame to draw a smooth countdown."""
        return None if self.timer is None else self._remaining(self.timer, self._clock())

    def _remaining(self, timer: Timer, local_ms: float) -> int:
        if timer.state not in COUNTING:
            return timer.remaining_ms
        passed = max(0, round(local_ms + self.offset_ms - timer.server_time))
        left = timer.remaining_ms - passed
        return left if timer.state == "overtime" or timer.overtime else max(0, left)

    def __aiter__(self) -> LiveStream:
        return self

    async def __anext__(self) -> LiveUpdate:
        return await self._updates.__anext__()

    async def aclose(self) -> None:
        await self._updates.aclose()

    async def __aenter__(self) -> LiveStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _follow(self) -> AsyncGenerator[LiveUpdate, None]:
        failures, resumed = 0, False
        while True:
            try:
                async with connect(self.url, open_timeout=10, max_size=2**20) as socket:
                    async for update in self._session(socket, resumed):
                        failures = 0
                        yield update
                        if update.type == "deleted":
                            return
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code == CLOSE_NOT_FOUND:
                    raise NotFoundError(f"no timer at {self.url}", status=404,
                                        type="not_found") from None
                if code == CLOSE_DELETED:
                    return
            except (OSError, InvalidHandshake, TimeoutError):
                pass  # the server is away or restarting: try again below
            if self.max_reconnects is not None and failures >= self.max_reconnects:
                raise APIConnectionError(f"could not reconnect to {self.url} after "
                                         f"{failures} attempts")
            # Full jitter: viewers dropped together by a restart do not return together.
            ceiling = min(self.max_backoff, self.backoff * 2**failures)
            await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311
            failures, resumed = failures + 1, True

    async def _session(self, socket: ClientConnection, resumed: bool
                       ) -> AsyncIterator[LiveUpdate]:
        loop = asyncio.get_running_loop()
        self.rtt_ms, pings, next_ping = None, 0, loop.time()
        while True:
            wait = next_ping - loop.time()
            if wait <= 0:
                await socket.send(json.dumps({"type": "ping", "t": self._clock()}))
                pings += 1
                next_ping = loop.time() + (FIRST_PING_GAP if pings < FIRST_PINGS else PING_EVERY)
                continue
            try:
                # Cancelling recv() loses nothing (websockets documents it as safe). Not
                # wait_for: on Python 3.11 it can drop the caller's own cancellation.
                async with asyncio.timeout(wait):
                    text = await socket.recv()
            except TimeoutError:
                continue
            received = self._clock()
            message = json.loads(text)
            if isinstance(message, dict):
                update = self._read(message, received, resumed)
                if update is not None:
                    resumed = resumed and update.type != "snapshot"
                    yield update

    def _read(self, message: dict[str, Any], received: float, resumed: bool
              ) -> LiveUpdate | None:
        kind = message.get("type")
        server_time = message.get("server_time")
        if kind == "pong":
            sent = message.get("t")
            if isinstance(sent, int | float) and isinstance(server_time, int | float):
                rtt = received - sent
                if rtt >= 0 and (self.rtt_ms is None or rtt < self.rtt_ms):
                    self.rtt_ms, self.offset_ms = rtt, server_time - (sent + rtt / 2)
            return None
        if kind == "presence":
            viewers = message.get("viewers")
            self.viewers = viewers if isinstance(viewers, int) else self.viewers
        elif kind in ("snapshot", "tick", "state"):
            if kind == "snapshot" and self.rtt_ms is None and isinstance(server_time, int):
                # Until a pong comes back: off by at most the one-way delay.
                self.offset_ms = server_time - received
            self.timer = Timer.from_json(message.get("timer"))
        elif kind != "deleted":
            return None  # a message this version does not know
        timer = self.timer
        events = message.get("events")
        return LiveUpdate(
            type=kind, timer=timer, version=int(message.get("v") or (timer.version if timer
                                                                     else 0)),
            server_time=int(server_time) if isinstance(server_time, int | float) else 0,
            remaining_ms=self._remaining(timer, received) if timer else 0,
            offset_ms=self.offset_ms, event=message.get("event"),
            events=list(events) if isinstance(events, list) else [],
            viewers=self.viewers, resumed=resumed and kind == "snapshot", raw=message)
