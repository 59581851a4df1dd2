"""A wake-up signal for the loops that sleep until there is work (scheduler, dispatcher,
ticker): sleep for at most so long, or until someone says there is something new.

The one rule that makes it safe: `arm()` forgets earlier wake-ups and must be called *before*
the loop looks at what there is to do. A wake-up that arrives while it looks (a commit that
sets a sooner deadline during an await) is then kept and cuts the next sleep short; arming
after the look would drop it and leave that work waiting for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wake:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """There is something new: the next or current `sleep` ends now."""
        self._event.set()

    def arm(self) -> None:
        """Forget wake-ups so far; call before looking for work."""
        self._event.clear()

    async def sleep(self, seconds: float | None) -> None:
        """Until woken (since the last `arm`) or `seconds` have passed (None: no limit). A
        task cancelled during its look for work ends here, even if something it awaited
        swallowed the cancellation (`stop_if_cancelled`): every loop that sleeps on a Wake
        (scheduler, dispatcher, ticker) stops when asked."""
        stop_if_cancelled()
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the wake-up does, and the loop would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()


def stop_if_cancelled() -> None:
    """End the calling task if it has been cancelled: for loops that run until cancelled, once
    a round.

    Why: an await deep down can take a cancellation and carry on. redis-py writes every command
    under `asyncio.wait_for(..., socket_timeout)`, and on Python 3.11 wait_for returns the
    result and drops the cancellation when the write finishes in the same turn of the loop as
    the cancel arrives (bpo-42130, fixed in 3.12). The request still counts in
    `Task.cancelling()`; without this look the loop went round for ever, and whoever awaited
    it (a shutdown, a test: CI hung 90 minutes) with it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
