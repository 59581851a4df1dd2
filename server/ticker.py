"""Turns committed state into whole-second ticks for this process's sockets.

Redis carries transitions, not seconds: every process derives the same ticks from the same
committed timer. A tick goes out at each instant the timer's remaining time is a whole number of
seconds, so its `server_time` is that instant and `remaining_ms` a multiple of 1000. Tick times
are absolute (computed from the committed anchor, not from the previous tick), so they never
drift, however late one wake-up is.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from . import metrics, timer_json, timers
from .clock import now_ms as wall_clock
from .hub import Hub, Room, broadcast
from .timers import Timer
from .wake import Wake


def next_tick(timer: Timer, after_ms: int) -> int | None:
    """The first instant > `after_ms` at which the running timer has a whole number (≥ 1) of
    seconds left, or in overtime a whole number past zero; None when no tick is due."""
    if timer.state not in (timers.State.RUNNING, timers.State.OVERTIME):
        return None
    remaining = timers.progress(timer, after_ms).remaining_ms
    step = remaining % 1000 or 1000
    if timer.state == timers.State.OVERTIME:
        return after_ms + step  # counting up past zero, for as long as it runs
    if remaining - step < 1000:
        return None
    return after_ms + step


def tick_message(timer: Timer, at_ms: int) -> dict[str, Any]:
    public = timer_json.public(timer, at_ms)
    return {"type": "tick", "v": timer.version, "server_time": at_ms,
            "remaining_ms": public["remaining_ms"], "elapsed_ms": public["elapsed_ms"],
            "round": public["round"], "phase": public["phase"], "state": public["state"],
            "timer": public}


class Ticker:
    def __init__(self, hub: Hub, clock: Callable[[], int] = wall_clock) -> None:
        self.hub = hub
        self.clock = clock
        # (tick ms, sequence, room, schedule token): an entry is live only while its room is
        # still the timer's room and has not been rescheduled since (a viewer that leaves and
        # rejoins within a second gets a new room; a new commit gets a new token).
        self._heap: list[tuple[int, int, Room, object]] = []
        self._sequence = 0
        self._wake = Wake()
        hub.on_state(self.track)

    def track(self, room: Room) -> None:
        """(Re)schedule a room's ticks after its state changed or it was first loaded."""
        room.tick_token = token = object()  # every earlier entry of this room is now dead
        if room.timer is None:
            return
        at = next_tick(room.timer, self.clock())
        if at is not None:
            self._push(at, room, token)

    def _push(self, at: int, room: Room, token: object) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (at, self._sequence, room, token))
        if self._heap[0][0] == at:
            self._wake.set()

    async def run(self) -> None:
        heap = self._heap
        while True:
            # Looking at the heap does not await, so arming right before sleeping loses nothing.
            if not heap:
                self._wake.arm()
                await self._wake.sleep(None)
                continue
            delay = (heap[0][0] - self.clock()) / 1000
            if delay > 0:
                self._wake.arm()
                await self._wake.sleep(delay)
                continue
            now = self.clock()
            while heap and heap[0][0] <= now:
                at, _, room, token = heapq.heappop(heap)
                if (room.tick_token is not token or room.timer is None
                        or self.hub.rooms.get(room.timer_id) is not room):
                    continue  # left, deleted, or rescheduled by a newer state
                if now - at < 1000:  # a wake-up later than a whole second sends no stale tick
                    broadcast(room.viewers, tick_message(room.timer, at))
                    metrics.TICKS.inc(len(room.viewers))
                following = next_tick(room.timer, max(at, now))
                if following is not None:
                    self._push(following, room, token)
