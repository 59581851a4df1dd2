"""Per-process fan-out: timer id → local sockets.

A room per timer with local viewers. The hub subscribes to the timer's state channel (through
the engine, so it works on every engine) when the first viewer arrives and unsubscribes when the
last leaves, and keeps the latest committed timer. Every message after the snapshot carries the
full public state, so each socket needs a mailbox of one slot: a newer message replaces an unsent
older one (conflation). A slow socket never grows a buffer and never delays the others.

`broadcast` is a plain function in the manner of `websockets.broadcast`: it serialises once and
hands the same string to every viewer without awaiting any socket: a socket that can take data
writes it at once, a blocked one keeps it in its one-slot mailbox for its writer task, which
exists only while that socket is blocked.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from . import asgi_socket, ids, timer_json, timers
from .asgi_socket import Send
from .clock import now_ms as wall_clock
from .engines.base import Engine, EngineUnavailable, timer_channel
from .timers import Timer
from .wake import stop_if_cancelled

log = logging.getLogger("castimer.hub")

#: How long a process's count of a timer's viewers stands without a refresh (a process that
#: dies stops counting after it), and how often a live process refreshes it.
PRESENCE_TTL_MS = 15_000
PRESENCE_REFRESH_MS = 5_000
#: Published on a timer's state channel when a process's count of its viewers changed.
PRESENCE_NOTE = b'{"presence":1}'

#: Close codes the hub uses (docs/websockets.md lists them all).
CLOSE_DELETED = 4410
CLOSE_UNAUTHORIZED = 4401


class Viewer:
    """One socket's outbound side: a one-slot mailbox for state, a short queue for replies
    that must not be conflated away (pongs, acks), and a writer only while the socket is slow.

    Writing is synchronous while the socket can take data, as `websockets.broadcast` writes to
    each transport: `asgi_socket.write_now` steps the ASGI server's `send` once and, with
    uvicorn, it completes without suspending. Only when it does suspend (the client's buffers
    are full) does the viewer get a task that finishes that send and then drains the mailbox,
    which meanwhile holds just the newest message. No task switch per socket per tick on the
    common path."""

    __slots__ = ("_abort", "_latest", "_replies", "_send", "closed", "closing", "presenter",
                 "sending_since", "token_digest", "writer")

    def __init__(self, send: Send, abort: Callable[[], None] | None = None) -> None:
        self._send = send
        self._abort = abort
        self._latest: str | None = None
        # Made on the first reply that must wait: an empty deque costs 760 B, and most
        # viewers never have one waiting (docs/performance.md, RSS per connection).
        self._replies: collections.deque[str] | None = None
        self.closing: tuple[int, str] | None = None
        self.closed = False
        self.sending_since = 0.0  # loop time the pending send started; 0 while none is
        self.writer: asyncio.Task[None] | None = None  # exists only while a send is pending
        #: A presenter's control token's digest (`timers.control_digest`): the socket closes
        #: when the timer's changes (a rotation).
        self.token_digest: str | None = None
        #: A control socket (or one that asked not to be counted): not one of the timer's viewers.
        self.presenter = False

    def offer(self, text: str) -> None:
        """Send `text` now if the socket can take it, else let it replace the waiting state
        message. Never blocks, never awaits."""
        if self.writer is not None or self.closing is not None:
            self._latest = text
        elif not self.closed:
            self._write({"type": "websocket.send", "text": text})

    def reply(self, text: str) -> None:
        """Like `offer`, but queued (bounded: a client that floods pings loses old replies)."""
        if self.writer is not None or self.closing is not None:
            if self._replies is None:
                self._replies = collections.deque(maxlen=32)
            self._replies.append(text)
        elif not self.closed:
            self._write({"type": "websocket.send", "text": text})

    def close(self, code: int, reason: str) -> None:
        """Close after what is queued."""
        if self.closing is not None or self.closed:
            return
        self.closing = (code, reason)
        if self.writer is None:
            self.writer = asyncio.create_task(self._drain())

    def abort(self) -> None:
        """Drop the connection without a goodbye: for a client that stopped reading."""
        self.closed = True
        if self.writer is not None:
            self.writer.cancel()
        if self._abort is not None:
            self._abort()

    async def drained(self, patience: float) -> None:
        """Wait until what is queued (and the close frame) went out; abort if it cannot."""
        if self.writer is None:
            return
        try:
            async with asyncio.timeout(patience):  # not wait_for: on 3.11 it can drop a cancel
                await asyncio.shield(self.writer)
        except TimeoutError:
            self.abort()
        except asyncio.CancelledError:
            self.abort()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the session itself is being cancelled (shutdown): let it end

    def _write(self, message: dict[str, Any]) -> None:
        try:
            pending = asgi_socket.write_now(self._send, message)
        except Exception:
            self.closed = True  # the client went away (uvicorn raises ClientDisconnected)
            return
        if pending is None:
            return  # written: the common case
        self.sending_since = asyncio.get_running_loop().time()
        self.writer = asyncio.create_task(self._drain(pending))

    async def _drain(self, pending: asgi_socket.Pending | None = None) -> None:
        try:
            if pending is not None:
                await pending.finish()
            while self._replies or self._latest is not None:
                if self._replies:
                    text = self._replies.popleft()
                else:
                    text, self._latest = self._latest, None  # type: ignore[assignment]
                self.sending_since = asyncio.get_running_loop().time()
                await self._send({"type": "websocket.send", "text": text})
            self.sending_since = 0.0
            if self.closing is not None:
                code, reason = self.closing
                # A close frame can block like any send: the stall watchdog must see it.
                self.sending_since = asyncio.get_running_loop().time()
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
                self.sending_since = 0.0
                self.closed = True
        except (OSError, RuntimeError, asyncio.CancelledError):
            self.closed = True
        except Exception:
            self.closed = True
            log.exception("viewer writer failed")
        finally:
            self.writer = None


def broadcast(viewers: Iterable[Viewer], message: dict[str, Any]) -> None:
    """Serialise `message` once and put it in every viewer's mailbox. Never awaits: a viewer
    that is slow to read is conflated, not waited for."""
    text = orjson.dumps(message).decode()
    for viewer in viewers:
        viewer.offer(text)


def state_message(timer: Timer, events: list[str], now: int) -> dict[str, Any]:
    return {"type": "state", "event": events[-1] if events else None, "events": events,
            "v": timer.version, "server_time": now, "timer": timer_json.public(timer, now)}


def snapshot_message(timer: Timer, now: int) -> dict[str, Any]:
    return {"type": "snapshot", "v": timer.version, "server_time": now,
            "timer": timer_json.public(timer, now)}


class Room:
    """The viewers of one timer in this process and the latest committed state."""

    __slots__ = ("control", "counted_at", "loaded", "presence", "presence_stale", "reported",
                 "reported_at", "tick_token", "timer", "timer_id", "version", "viewers")

    def __init__(self, timer_id: str) -> None:
        self.timer_id = timer_id
        # The newest version seen, deletions included: a load that answers after a newer
        # message (even a deletion) must not bring an older state back.
        self.version = 0
        self.tick_token: object | None = None  # the ticker's current schedule of this room
        self.timer: Timer | None = None  # without its secrets (`timers.on_the_wire`)
        self.control = ""  # the digest of its control token (`timers.control_digest`)
        self.viewers: set[Viewer] = set()
        self.loaded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Presence: this process's count as last recorded in the engine, and the total of
        # every process as last told to the sockets.
        self.reported, self.reported_at = 0, 0
        self.presence: int | None = None
        self.presence_stale, self.counted_at = True, 0

    def local_viewers(self) -> int:
        return sum(1 for viewer in self.viewers if not viewer.presenter)


class Hub:
    def __init__(self, engine: Engine, clock: Callable[[], int] = wall_clock,
                 stall_timeout: float = 30.0) -> None:
        self.engine = engine
        self.clock = clock
        self.stall_timeout = stall_timeout
        self.rooms: dict[str, Room] = {}
        self._receivers: dict[str, Callable[[bytes], None]] = {}
        self._on_state: list[Callable[[Room], None]] = []
        self._reloads: set[asyncio.Task[None]] = set()
        self.connections_by_ip: collections.Counter[str] = collections.Counter()
        #: Names this process's presence records: unique per hub, so per process.
        self.process_id = ids.new_id("prc_")

    def on_state(self, callback: Callable[[Room], None]) -> None:
        """Call `callback(room)` whenever a room's committed state changes (the ticker)."""
        self._on_state.append(callback)

    # -- membership ---------------------------------------------------------------------------

    async def join(self, timer_id: str, viewer: Viewer) -> Room | None:
        """Add `viewer` to the timer's room, subscribing and loading on the first one.
        None if there is no such timer."""
        room = self.rooms.get(timer_id)
        if room is None:
            room = self.rooms[timer_id] = Room(timer_id)
            try:
                # Subscribe first, then load: a commit in between is in the load or arrives
                # as a message (and older versions are ignored).
                receiver = self._receivers[timer_id] = self._receiver_for(timer_id)
                await self.engine.subscribe(timer_channel(timer_id), receiver)
                raw = await self.engine.get_timer(timer_id)
                loaded = timers.load(raw) if raw is not None else None
                if loaded is not None and loaded.version > room.version:
                    # Held as the state channel carries it: no secrets in the room.
                    room.timer = timers.from_dict(timers.on_the_wire(loaded))
                    room.version = loaded.version
                    room.control = timers.control_digest(loaded.control_token)
                room.loaded.set_result(None)
                for callback in self._on_state:
                    callback(room)
            except BaseException as exc:
                room.loaded.set_exception(exc)
                room.loaded.exception()  # retrieved: viewers joining meanwhile re-raise it
                await self._close_room(room)
                raise
        else:
            await asyncio.shield(room.loaded)
        if room.timer is None:
            if not room.viewers:
                await self._close_room(room)
            return None
        room.viewers.add(viewer)
        return room

    async def leave(self, timer_id: str, viewer: Viewer) -> None:
        room = self.rooms.get(timer_id)
        if room is None:
            return
        room.viewers.discard(viewer)
        if not room.viewers and room.loaded.done():
            await self._close_room(room)

    async def _close_room(self, room: Room) -> None:
        if self.rooms.get(room.timer_id) is room:
            del self.rooms[room.timer_id]
        receiver = self._receivers.pop(room.timer_id, None)
        if receiver is not None:
            with contextlib.suppress(Exception):
                await self.engine.unsubscribe(timer_channel(room.timer_id), receiver)
        if room.reported:
            # Best effort: if the store cannot be told, the record expires by itself.
            with contextlib.suppress(Exception):
                await self.engine.set_presence(room.timer_id, self.process_id, 0, 0)
                await self.engine.publish(timer_channel(room.timer_id), PRESENCE_NOTE)

    # -- committed state ----------------------------------------------------------------------

    def _receiver_for(self, timer_id: str) -> Callable[[bytes], None]:
        def receive(message: bytes) -> None:
            room = self.rooms.get(timer_id)
            if room is None:
                return
            if not message:  # the engine may have missed messages: reload
                task = asyncio.create_task(self._reload(room))
                self._reloads.add(task)
                task.add_done_callback(self._reloads.discard)
                return
            if message == PRESENCE_NOTE:  # some process's viewers of this timer changed
                room.presence_stale = True
                return
            self._apply(room, orjson.loads(message))

        return receive

    def _apply(self, room: Room, message: dict[str, Any]) -> None:
        if message["v"] <= room.version:
            return  # older than what we hold (a load raced the message)
        room.version = message["v"]
        now = self.clock()
        if message["timer"] is None:
            room.timer = None
            broadcast(room.viewers, {"type": "deleted", "timer_id": room.timer_id,
                                     "v": message["v"], "server_time": now})
            for viewer in room.viewers:
                viewer.close(CLOSE_DELETED, "the timer was deleted")
            return
        fields = message["timer"]
        # A process of the previous release sends the token itself, and no digest.
        room.control = message.get("control") or timers.control_digest(
            fields.get("control_token") or "")
        fields["control_token"], fields["webhook_url"], fields["webhook_events"] = "", None, None
        room.timer = timers.from_dict(fields)
        broadcast(room.viewers, state_message(room.timer, message["events"], now))
        for viewer in room.viewers:
            if viewer.token_digest is not None and not hmac.compare_digest(viewer.token_digest,
                                                                           room.control):
                viewer.close(CLOSE_UNAUTHORIZED, "the control token was rotated")
        for callback in self._on_state:
            callback(room)

    async def _reload(self, room: Room) -> None:
        try:
            raw = await self.engine.get_timer(room.timer_id)
        except Exception as exc:
            log.warning("could not reload %s: %s", room.timer_id, exc)
            return
        held = room.version
        if raw is None:
            if room.timer is not None:
                self._apply(room, {"v": held + 1, "timer": None, "events": []})
        elif timers.load(raw).version > held:
            stored = timers.load(raw)
            # As the state channel would carry it.
            self._apply(room, orjson.loads(orjson.dumps({
                "v": stored.version, "timer": timers.on_the_wire(stored), "events": [],
                "control": timers.control_digest(stored.control_token)})))

    # -- presence -----------------------------------------------------------------------------

    async def watch_presence(self, every: float = 1.0) -> None:
        """Once a second: record this process's viewer counts that changed (and refresh the
        others before they expire), then recount what changed anywhere and tell the sockets.
        So a change reaches every socket within about two seconds, at most once a second."""
        while True:
            await asyncio.sleep(every)
            stop_if_cancelled()
            try:
                await self.presence_round()
            except EngineUnavailable:
                pass  # the outage is reported by the loops that need the store; try again

    async def presence_round(self) -> None:
        now = self.clock()
        for room in list(self.rooms.values()):
            local = room.local_viewers()
            if local != room.reported or now - room.reported_at >= PRESENCE_REFRESH_MS:
                await self.engine.set_presence(room.timer_id, self.process_id, local,
                                               now + PRESENCE_TTL_MS)
                if local != room.reported:
                    await self.engine.publish(timer_channel(room.timer_id), PRESENCE_NOTE)
                room.reported, room.reported_at = local, now
        # Stale: some process said so; or a while since the last count (a process that died
        # says nothing: its records just expire).
        due = [room for room in self.rooms.values()
               if room.presence_stale or now - room.counted_at >= PRESENCE_REFRESH_MS]
        if not due:
            return
        totals = await self.engine.count_viewers([room.timer_id for room in due], now)
        for room, total in zip(due, totals, strict=True):
            room.presence_stale, room.counted_at = False, now
            if total != room.presence:
                room.presence = total
                broadcast(room.viewers, {"type": "presence", "viewers": total})

    # -- housekeeping -------------------------------------------------------------------------

    async def watch_stalls(self, every: float = 1.0) -> None:
        """Close sockets whose send has been stuck longer than the stall timeout: a client
        that stopped reading. Its mailbox never held more than one message meanwhile."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every)
            limit = loop.time() - self.stall_timeout
            for room in list(self.rooms.values()):
                for viewer in list(room.viewers):
                    if 0 < viewer.sending_since < limit:
                        log.info("closing a stalled viewer of %s", room.timer_id)
                        viewer.abort()
