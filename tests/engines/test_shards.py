"""The Redis engine spreads a store over shards (server/engines/redis_keys.py): an account and
everything it owns under one hash tag, a timer's tag from its id, the count fixed at first use,
and the scheduler's and dispatcher's looks over every shard fair to each."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
import redis as redis_py

from server import accounts, commit, ids
from server.engines.base import DeliveryRecord
from server.engines.redis import RedisEngine
from tests.servers import RedisServer

pytestmark = pytest.mark.anyio
T0 = 1_800_000_000_000
TAG = re.compile(rb"^castimer:\{(\d+)\}:")


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def tags(port: int, pattern: str = "*") -> Counter[int]:
    r = redis_py.Redis(port=port)
    try:
        found = Counter()
        for name in r.keys(pattern):
            match = TAG.match(name)
            assert match, name
            found[int(match.group(1))] += 1
        return found
    finally:
        r.close()


async def an_engine(url: str, shards: int | None = None) -> RedisEngine:
    engine = RedisEngine(url, shards=shards)
    await engine.open()
    return engine


async def test_accounts_spread_over_the_shards_and_keep_their_things_in_theirs(redis):
    engine = await an_engine(redis.url)
    try:
        assert engine.shards == 16  # CASTIMER_REDIS_SHARDS' default
        made = []
        for n in range(100):
            account, _ = await accounts.key_for(engine, f"acme-{n}", "pro", T0)
            timer = await commit.create(engine, account.id, {
                "type": "countdown", "duration": 60,
                "webhook_url": "https://hooks.example.com/x"}, clock=lambda: T0)
            await commit.command(engine, account.id, timer.id, "start", clock=lambda: T0)
            made.append((account, timer))
        used = tags(redis.port, "castimer:*:account-timers:*")
        assert sum(used.values()) == 100 and len(used) >= 12  # of 16: spread, not piled up
        for account, timer in made[:10]:
            shard = engine.keyspace.shard_of(account.id)
            assert engine.keyspace.shard_of(timer.id) == shard
            for pattern in (f"*{account.id}*", f"*{timer.id}*"):
                assert set(tags(redis.port, pattern)) == {shard}, pattern
            stored = (await engine.list_deliveries(account.id, timer.id, None, 5))[0]
            assert [engine.keyspace.shard_of(d.id) for d in stored] == [shard]
    finally:
        await engine.close()


async def test_the_shard_count_is_the_stores_own_once_recorded(redis):
    first = await an_engine(redis.url, shards=4)
    await first.close()
    later = await an_engine(redis.url, shards=32)  # a process configured otherwise
    try:
        assert later.shards == 4
        account, _ = await accounts.key_for(later, "acme", "pro", T0)
        again = await an_engine(redis.url)
        assert again.shards == 4 and await again.get_account(account.id) == account
        await again.close()
    finally:
        await later.close()
    with pytest.raises(ValueError, match="CASTIMER_REDIS_SHARDS must be 1 to 1024, got 0"):
        RedisEngine(redis.url, shards=0)


async def account_in(engine: RedisEngine, shard: int, name: str):
    """An account whose id falls in `shard` (ids are random: make them until one does)."""
    while True:
        account = await accounts.add_account(engine, f"{name}-{ids.new_id('')}", "pro", T0)
        if engine.keyspace.shard_of(account.id) == shard:
            return account


async def test_one_busy_shard_does_not_keep_the_others_waiting(redis):
    engine = await an_engine(redis.url, shards=2)
    try:
        busy, quiet = await account_in(engine, 0, "busy"), await account_in(engine, 1, "quiet")
        for n in range(30):  # due before the quiet shard's one
            timer = await commit.create(engine, busy.id, {"type": "countdown", "duration": 1},
                                        clock=lambda n=n: T0 - 10_000 + n)
            await commit.command(engine, busy.id, timer.id, "start",
                                 clock=lambda n=n: T0 - 10_000 + n)
        lone = await commit.create(engine, quiet.id, {"type": "countdown", "duration": 1},
                                   clock=lambda: T0)
        await commit.command(engine, quiet.id, lone.id, "start", clock=lambda: T0)
        for _ in range(2):  # whichever shard a look starts from
            assert lone.id in [t for t, _ in await engine.due_timers(T0 + 5_000, 10)]
        assert await engine.next_deadline() == T0 - 10_000 + 1000

        url = "https://hooks.example.com/h"
        await engine.add_deliveries([
            DeliveryRecord(ids.delivery_id(f"tmr_busy{n}"), busy.id, f"tmr_busy{n}", "evt",
                           url, b"{}", T0) for n in range(30)], T0)
        quiet_timer = ids.timer_id(quiet.id)
        await engine.add_deliveries([DeliveryRecord(
            ids.delivery_id(quiet_timer), quiet.id, quiet_timer, "evt", url, b"{}", T0)], T0)
        assert await engine.outbox_depth(T0) == (31, 31)
        for at in (T0, T0 + 10):  # the second once the first's leases (1 ms) have run out
            claimed = await engine.claim_deliveries(at, 10, 1)
            assert len(claimed) == 10
            assert quiet_timer in {c.delivery.timer_id for c in claimed}
            assert {c.account.id for c in claimed} == {busy.id, quiet.id}
    finally:
        await engine.close()
