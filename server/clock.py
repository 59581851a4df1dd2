"""The wall clock in epoch milliseconds: deadlines are absolute times shared by processes."""

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
