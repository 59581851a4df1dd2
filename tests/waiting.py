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
