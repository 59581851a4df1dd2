"""The rate-limit arithmetic, shared by engines that keep budgets in process memory.

GCRA (generic cell rate algorithm) for the minute window: a request at `now` is allowed when
`max(tat, now) + T - window ≤ now`, where T = window / limit and `tat` is the theoretical arrival
time. It allows a burst of `limit` and then one request every T, with no boundary effects.
The Redis engine runs the same arithmetic in Lua.
"""

from __future__ import annotations

import math

from .base import RateLimit, RateStatus

WINDOW_MS = 60_000
DAY_MS = 86_400_000


def decide(rate: RateLimit, tat: float, day: int, day_count: int,
           now_ms: int) -> tuple[RateStatus, float, int, int]:
    """The decision for one request and the state to keep: (status, tat, day, day_count)."""
    interval = WINDOW_MS / rate.per_minute
    today = now_ms // DAY_MS
    if day != today:
        day, day_count = today, 0
    new_tat = max(tat, now_ms) + interval
    minute_ok = new_tat - WINDOW_MS <= now_ms
    day_ok = rate.per_day is None or day_count < rate.per_day
    if minute_ok and day_ok:
        tat, day_count = new_tat, day_count + 1
    minute_left = max(0, math.floor((now_ms + WINDOW_MS - max(tat, now_ms)) / interval + 1e-9))
    minute_reset = math.ceil((max(tat, now_ms) - now_ms) / 1000)
    day_reset = math.ceil(((today + 1) * DAY_MS - now_ms) / 1000)
    status = RateStatus(True, rate.per_minute, minute_left, minute_reset, 60, 0, day_count)
    if rate.per_day is not None and rate.per_day - day_count < minute_left:
        status = RateStatus(True, rate.per_day, rate.per_day - day_count, day_reset, 86400, 0,
                            day_count)
    if not (minute_ok and day_ok):
        retry = math.ceil((new_tat - WINDOW_MS - now_ms) / 1000) if not minute_ok else 0
        if not day_ok:
            retry = max(retry, day_reset)
        status = RateStatus(False, status.limit, 0, status.reset_s, status.window_s,
                            max(1, retry), day_count)
    return status, tat, day, day_count
