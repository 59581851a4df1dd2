"""When a delivery is tried again, and when it is done: pure functions of an attempt's answer.

The schedule lists the delay before each attempt in seconds, the first counted from the event
(it is 0: the first attempt goes out at once) and each later one from the attempt before it;
its length is the number of attempts in all. After the last, the delivery is `failed`.
"""

from __future__ import annotations

import email.utils

from ..engines.base import CANCELLED, FAILED, PENDING, SUCCEEDED

DEFAULT_SCHEDULE = (0.0, 60.0, 300.0, 1800.0, 7200.0)
#: A receiver's Retry-After pushes an attempt later, but never past this (seconds).
MAX_RETRY_AFTER = 86_400


def parse_schedule(text: str) -> tuple[float, ...]:
    """`0,60,300` → (0.0, 60.0, 300.0); a clear ValueError for anything else."""
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("CASTIMER_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, "
                         f"like 0,60,300,1800,7200; got {text!r}") from None
    if not delays or delays[0] != 0 or any(not 0 <= d <= MAX_RETRY_AFTER for d in delays):
        raise ValueError("CASTIMER_WEBHOOK_RETRY_SCHEDULE must start with 0 (the first attempt "
                         f"goes out at once) and hold delays from 0 to {MAX_RETRY_AFTER} s; "
                         f"got {text!r}")
    return delays


def retry_after_s(value: str | None, now_ms: int) -> float | None:
    """A Retry-After header in seconds from now: delta-seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_ms / 1000)


def next_step(attempts_in_run: int, status_code: int | None, retry_after: float | None,
              now_ms: int, schedule: tuple[float, ...]) -> tuple[str, int | None]:
    """The delivery's status after its `attempts_in_run`-th attempt of this run answered
    `status_code` (None: no answer), and for `pending` when the next attempt is due."""
    if status_code is not None and 200 <= status_code < 300:
        return SUCCEEDED, None
    if status_code == 410:
        return CANCELLED, None
    if attempts_in_run >= len(schedule):
        return FAILED, None
    delay = schedule[attempts_in_run]
    if status_code in (429, 503) and retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return PENDING, now_ms + round(delay * 1000)
