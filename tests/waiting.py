"""Waiting on what the code under test does on its own time (a scheduler firing, a message
arriving), for the places where it gives no event to await."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: How long a test waits for something that takes milliseconds on a quiet machine: long
#: enough for a CI machine with every core busy and its disk flushing, and the wait ends the
#: moment the condition holds, so only a failure takes this long.
PATIENCE_S = 15.0


async def until(condition: Callable[[], object], within: float = PATIENCE_S,
                step: float = 0.01) -> None:
    """Return once `condition()` is true, or after `within` seconds (the caller's assertion
    then says what did not happen)."""
    give_up = time.monotonic() + within
    while not condition() and time.monotonic() < give_up:
        await asyncio.sleep(step)


class SwallowedCancellation:
    """For tests of loops that must stop even when an await below them takes a cancellation
    and returns as if nothing happened (redis-py's command write on Python 3.11, when the
    write finishes as the cancel arrives: see `server.wake.stop_if_cancelled`). An engine double's
    method awaits `once()`: the first call stalls until cancelled, swallows it, and returns;
    later calls pass straight through. No real store does it on cue, hence the double."""

    def __init__(self) -> None:
        self.inside, self.swallowed = asyncio.Event(), asyncio.Event()

    async def once(self) -> None:
        if self.swallowed.is_set():
            return
        self.inside.set()
        try:
            await asyncio.Event().wait()  # a reply that is slow to come
        except asyncio.CancelledError:
            self.swallowed.set()

    async def cancel(self, task: asyncio.Task[None]) -> bool:
        """Cancel `task` while it is inside `once()`: True if it then ends, cancelled, within
        5 s. If not, it is cancelled again (heard this time), so a failure does not hang."""
        await asyncio.wait_for(self.inside.wait(), 5)
        task.cancel()
        await asyncio.wait_for(self.swallowed.wait(), 5)
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=5)
        return bool(done) and task.cancelled()
