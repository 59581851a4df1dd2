"""One report of a store outage per process: a line when it begins and one when it ends,
however many parts of the process (scheduler, webhook dispatcher, pub/sub subscriber,
readiness probe) keep failing and retrying meanwhile, several times a second."""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Callable

log = logging.getLogger("castimer.engines")

#: A failure this soon after an outage ended belongs to it (a call already under way when the
#: store came back): it is reported only if the store stays away this long.
SETTLE_S = 3.0


class Outage:
    """Told of every failure and every success of a call to the store, by the part of the
    process that made it; logs the changes. The outage ends when every part that failed has
    answered again: one part's success (the scheduler's polls) says nothing of another's (a
    pub/sub subscription the store keeps refusing)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: float | None = None  # when the store stopped answering
        self.reported = False  # the current outage's beginning was logged
        self.ended = -math.inf
        self.failing: set[str] = set()

    def failed(self, reason: object, part: str) -> None:
        now = self.clock()
        self.failing.add(part)
        if self.since is None:
            self.since, self.reported = now, False
        if not self.reported and (now - self.ended >= SETTLE_S or now - self.since >= SETTLE_S):
            self.reported = True
            log.warning("the store is unreachable (%s); retrying until it answers", reason)

    def answered(self, part: str) -> None:
        self.failing.discard(part)
        if self.since is None or self.failing:
            return
        now = self.clock()
        if self.reported:
            log.warning("the store answers again, after %.1f s", now - self.since)
        self.since, self.ended = None, now


_outages: weakref.WeakKeyDictionary[object, Outage] = weakref.WeakKeyDictionary()


def of(engine: object) -> Outage:
    """The outage reporter of this engine (one engine per process: one report)."""
    found = _outages.get(engine)
    if found is None:
        found = _outages[engine] = Outage()
    return found
