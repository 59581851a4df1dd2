"""A locked SQLite file never stalls the event loop: the point reads that run on the loop give
up at once and wait for the lock on the writer's thread instead, so sockets keep being served."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from server import commit
from tests.conftest import opened

pytestmark = pytest.mark.anyio


async def loop_stall_during(work) -> tuple[object, float]:
    """Run `work` while a probe measures the longest the loop went without running it."""
    worst = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.002)
            worst = max(worst, time.monotonic() - before - 0.002)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    try:
        return await work, worst
    finally:
        done.set()
        await task


async def test_a_read_of_a_locked_store_waits_off_the_loop(tmp_path):
    """In WAL mode only a recovery or another process's exclusive lock makes a reader wait, and
    neither can be set up on cue while the engine holds the file open. So the engine's loop
    reader (with its own busy timeout) is pointed at a second store in rollback-journal mode
    whose real EXCLUSIVE lock another connection holds; the engine's store must still answer,
    from the writer's thread, without the loop waiting on the lock."""
    async with opened(f"sqlite:///{tmp_path}/castimer.db") as engine:
        made = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 60})
        locked = tmp_path / "locked.db"
        setup = sqlite3.connect(locked, isolation_level=None)
        setup.execute("CREATE TABLE timers (id TEXT PRIMARY KEY, body BLOB)")
        setup.close()
        holder = sqlite3.connect(locked, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        reader = engine._reader
        [busy_ms] = reader.execute("PRAGMA busy_timeout").fetchone()
        engine._reader = sqlite3.connect(locked, isolation_level=None)
        engine._reader.execute(f"PRAGMA busy_timeout = {busy_ms}")
        engine._reader.row_factory = reader.row_factory
        try:
            body, stall = await loop_stall_during(engine.get_timer(made.id))
        finally:
            engine._reader.close()
            engine._reader = reader
            holder.rollback()
            holder.close()
        assert body is not None and made.id.encode() in body
        print(f"worst loop stall while a read met a locked store: {stall * 1000:.1f} ms")
        assert stall < 0.1


async def test_reads_under_a_writer_load_keep_the_loop_moving(tmp_path):
    """Another process's connection commits as fast as it can while the loop reads."""
    url = f"sqlite:///{tmp_path}/castimer.db"
    async with opened(url) as engine:
        made = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 60})
        stop = threading.Event()

        def write() -> None:
            db = sqlite3.connect(tmp_path / "castimer.db", isolation_level=None)
            db.execute("PRAGMA synchronous = FULL")
            while not stop.is_set():
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT INTO timer_commits VALUES ('tmr_load', hex(randomblob(8))) "
                           "ON CONFLICT (timer_id) DO UPDATE SET commit_id = excluded.commit_id")
                db.execute("COMMIT")
            db.close()

        writer = threading.Thread(target=write)
        writer.start()

        async def reads() -> int:
            for _ in range(2000):
                assert await engine.get_timer(made.id) is not None
                await asyncio.sleep(0)
            return 2000

        try:
            count, stall = await loop_stall_during(reads())
        finally:
            stop.set()
            writer.join()
        print(f"worst loop stall over {count} reads under a writer load: {stall * 1000:.1f} ms")
        assert stall < 0.1
