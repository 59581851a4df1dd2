"""Group commit on SQLite: commits that arrive while one is being written share the next
transaction (one fsync), and each is still version-checked and all or nothing on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from server.engines.base import VersionConflict
from tests.conftest import opened
from tests.engines.contract.records import a_commit

pytestmark = pytest.mark.anyio


@contextmanager
def transactions_of(engine) -> Iterator[list[str]]:
    """The COMMIT statements the engine's writer connection runs meanwhile (one per fsync)."""
    seen: list[str] = []
    engine._db.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    try:
        yield seen
    finally:
        engine._db.set_trace_callback(None)


async def test_concurrent_commits_share_transactions(tmp_path):
    async with opened(f"sqlite:///{tmp_path}/castimer.db") as engine:
        with transactions_of(engine) as commits:
            await asyncio.gather(*(engine.commit(a_commit(f"tmr_{n}", 0, deliveries=1))
                                   for n in range(50)))
        # The first is written alone; the other 49 arrived while it was, and go together.
        assert len(commits) <= 2
        for n in range(50):
            assert await engine.get_timer(f"tmr_{n}") is not None


async def test_a_conflict_in_a_group_fails_only_its_own_commit(tmp_path):
    async with opened(f"sqlite:///{tmp_path}/castimer.db") as engine:
        await engine.commit(a_commit("tmr_b", 0))
        with transactions_of(engine) as commits:
            results = await asyncio.gather(
                engine.commit(a_commit("tmr_a", 0, events=2)),
                engine.commit(a_commit("tmr_b", 0, events=3, deliveries=1)),  # stale
                engine.commit(a_commit("tmr_c", 0, events=1)),
                return_exceptions=True)
        assert len(commits) == 1
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], VersionConflict) and results[1].current == 1
        events, _ = await engine.list_events("acct_1", None, 100)
        assert [e.timer_id for e in events] == ["tmr_b", "tmr_a", "tmr_a", "tmr_c"]
        depth, _ = await engine.outbox_depth(0)
        assert depth == 0  # the stale commit's delivery was rolled back with it


async def test_two_steps_of_one_timer_in_one_group_apply_in_order(tmp_path):
    async with opened(f"sqlite:///{tmp_path}/castimer.db") as engine:
        await engine.commit(a_commit("tmr_1", 0))
        await asyncio.gather(engine.commit(a_commit("tmr_1", 1)),
                             engine.commit(a_commit("tmr_1", 2)))
        assert b'"v":3' in (await engine.get_timer("tmr_1") or b"")
