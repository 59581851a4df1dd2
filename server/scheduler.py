"""Fires deadlines: sleeps until the earliest one, commits due completions and round ends
through the commit path, and is woken early when a commit sets a sooner deadline.

Any number of schedulers may run over one engine (one per process). They do not coordinate:
each loads a due timer and commits from the version it read, and the engine's version check
lets exactly one commit win; the others reload, find nothing due, and move on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from . import commit, metrics
from .clock import now_ms as wall_clock
from .engines import outage
from .engines.base import DEADLINES_CHANNEL, EngineUnavailable, PubSub, Store
from .wake import Wake

log = logging.getLogger("castimer.scheduler")


class SchedulerEngine(Store, PubSub, Protocol):
    """What a scheduler uses of an engine: the store's deadlines and commits, and the wake-ups
    on DEADLINES_CHANNEL."""


class Scheduler:
    def __init__(self, engine: SchedulerEngine, *, clock: Callable[[], int] = wall_clock,
                 poll_s: float = 1.0, batch: int = 256) -> None:
        self.engine = engine
        self.clock = clock
        # Other processes' commits reach this one by pub/sub where the engine has it; the
        # poll is the fallback (and the only path across processes on the sqlite engine).
        self.poll_s = poll_s
        self.batch = batch
        self._wake = Wake()
        self.fired = 0

    def _on_deadline(self, message: bytes) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled."""
        subscribed = False
        try:
            while True:
                self._wake.arm()  # before looking: a commit made during the look is kept
                try:
                    if not subscribed:
                        subscribed = await self._subscribe()
                    delay = await self._fire_due()
                    outage.of(self.engine).answered("scheduler")
                except EngineUnavailable as exc:
                    outage.of(self.engine).failed(exc, "scheduler")
                    delay = self.poll_s
                except Exception:
                    # A bug or an error reply must not stop deadlines for good: log, go on.
                    log.exception("scheduler: unexpected error; retrying")
                    delay = self.poll_s
                await self._wake.sleep(delay)
        finally:
            if subscribed:
                await self.engine.unsubscribe(DEADLINES_CHANNEL, self._on_deadline)

    async def _subscribe(self) -> bool:
        """Subscribe to the deadlines channel; False if the store could not confirm it now.
        The scheduler then runs on its poll and tries again at the next round: a subscription
        that fails at start must not leave a process without a scheduler."""
        try:
            await self.engine.subscribe(DEADLINES_CHANNEL, self._on_deadline)
        except EngineUnavailable:
            log.warning("scheduler: no wake-ups from other processes yet; polling meanwhile")
            return False
        return True

    async def _fire_due(self) -> float:
        """Fire every due deadline; returns how long to sleep before the next one. A timer that
        cannot be settled (a bug) is logged and passed over until the next poll: one timer must
        not hold back everybody else's deadlines."""
        stuck: set[str] = set()
        while True:
            due = await self.engine.due_timers(self.clock(), self.batch)
            for timer_id, deadline in due:
                if timer_id in stuck:
                    continue
                try:
                    fired = await commit.settle(self.engine, timer_id, self.clock)
                except EngineUnavailable:
                    raise
                except Exception:
                    log.exception("scheduler: timer %s could not be settled; the others go on",
                                  timer_id)
                    stuck.add(timer_id)
                    continue
                if fired:
                    self.fired += 1
                    metrics.SCHEDULER_LATENESS.observe(max(0, self.clock() - deadline) / 1000)
            if len(due) < self.batch or all(timer_id in stuck for timer_id, _ in due):
                break
        if stuck:
            return self.poll_s  # not a spin on what failed: try it again at the next poll
        upcoming = await self.engine.next_deadline()
        if upcoming is None:
            return self.poll_s
        # Never spin: a deadline another process is firing right now stays due for a moment.
        return min(self.poll_s, max(0.002, (upcoming - self.clock()) / 1000))
