"""Plans: the unlimited plan is counted like the others and never refused."""

from __future__ import annotations

from server.accounts import PLANS
from server.engines import _gcra


def test_unlimited_plan_counts_and_never_refuses():
    tat, day, count, now = 0.0, 0, 0, 1_800_000_000_000
    for n in range(20_000):
        status, tat, day, count = _gcra.decide(PLANS["unlimited"], tat, day, count, now + n // 10)
        assert status.allowed
    assert status.used_today == 20_000
    assert status.remaining > 900_000_000
