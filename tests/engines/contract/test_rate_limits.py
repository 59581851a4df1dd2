"""What every engine promises as `RateLimits` (server/engines/base.py): the minute's budget,
the day's cap, and the day's count across a restart. Run against each engine."""

from __future__ import annotations

import pytest

from server.engines.base import RateLimit, RateLimits
from tests.engines.contract.records import T0

pytestmark = pytest.mark.anyio


async def test_engine_satisfies_rate_limits(engine):
    assert isinstance(engine, RateLimits)


async def test_rate_limit_allows_the_plan_burst_then_refuses_without_consuming(engine):
    rate = RateLimit(per_minute=30, per_day=1000)
    statuses = [await engine.hit_rate_limit("acct_r", rate, T0) for _ in range(31)]
    assert all(s.allowed for s in statuses[:30])
    assert [s.remaining for s in statuses[:3]] == [29, 28, 27]
    refused = statuses[30]
    assert not refused.allowed and refused.retry_after_s == 2  # one slot per 2 s
    later = await engine.hit_rate_limit("acct_r", rate, T0 + 2000)
    assert later.allowed and later.used_today == 31


async def test_rate_limit_day_cap(engine):
    rate = RateLimit(per_minute=600, per_day=3)
    allowed = [(await engine.hit_rate_limit("acct_d", rate, T0 + n * 1000)).allowed
               for n in range(4)]
    assert allowed == [True, True, True, False]
    tomorrow = (T0 // 86_400_000 + 1) * 86_400_000
    assert (await engine.hit_rate_limit("acct_d", rate, tomorrow)).allowed


async def test_the_days_count_survives_a_restart_and_the_next_day_starts_at_zero(engine_url):
    from tests.conftest import opened

    rate = RateLimit(per_minute=600, per_day=5)
    async with opened(engine_url) as first:
        for n in range(3):
            await first.hit_rate_limit("acct_u", rate, T0 + n)
        assert await first.usage_today("acct_u", T0 + 10) == 3
    async with opened(engine_url) as second:
        assert await second.usage_today("acct_u", T0 + 10) == 3
        assert await second.usage_today("acct_nobody", T0 + 10) == 0
        statuses = [await second.hit_rate_limit("acct_u", rate, T0 + 100 + n) for n in range(3)]
        assert [s.allowed for s in statuses] == [True, True, False]  # the cap holds
        assert statuses[1].used_today == 5
        tomorrow = (T0 // 86_400_000 + 1) * 86_400_000
        assert await second.usage_today("acct_u", tomorrow) == 0
