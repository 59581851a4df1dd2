"""Stores written before the dispatcher existed (outbox rows and members without the newer
fields) open with their pending deliveries intact, claimable and listed."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from server import accounts
from server.engines.redis import RedisEngine
from tests.conftest import opened
from tests.servers import RedisServer

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000
#: The deliveries table as the first release created it.
OLD_TABLE = """CREATE TABLE deliveries (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, timer_id TEXT NOT NULL,
    event_id TEXT NOT NULL, url TEXT NOT NULL, body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', due_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, lease_until_ms INTEGER)"""
BODY = orjson.dumps({"event": "timer.started"})


async def test_an_old_sqlite_store_keeps_its_pending_deliveries(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    async with opened(url) as engine:
        account = await accounts.add_account(engine, "old", "pro", T0)
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("DROP TABLE deliveries")
    db.execute(OLD_TABLE)
    for n, timer_id in enumerate(["tmr_a", "tmr_a", "tmr_b"]):
        db.execute("INSERT INTO deliveries (id, account_id, timer_id, event_id, url, body, "
                   "due_ms) VALUES (?, ?, ?, 'evt', 'https://example.com/h', ?, ?)",
                   (f"dlv_{n}", account.id, timer_id, BODY, T0 + n))
    db.commit()
    db.close()
    async with opened(url) as engine:
        claimed = await engine.claim_deliveries(T0 + 10, 10, 30_000)
        assert [c.delivery.id for c in claimed] == ["dlv_0", "dlv_2"]  # one per timer
        assert claimed[0].delivery.created_at_ms == T0
        page, _ = await engine.list_deliveries(account.id, "tmr_a", None, 10)
        assert [d.id for d in page] == ["dlv_1", "dlv_0"]


async def test_an_old_redis_outbox_keeps_its_pending_deliveries(tmp_path):
    redis = RedisServer(tmp_path).start()
    try:
        # A store of that time had every key under one tag, as a store of one shard has.
        old = RedisEngine(redis.url, shards=1)
        await old.open()
        try:
            engine = old
            account = await accounts.add_account(engine, "old", "pro", T0)
            client = engine._client  # writing the old layout needs the raw client
            for n, timer_id in enumerate(["tmr_a", "tmr_a", "tmr_b"]):
                await client.hset(f"castimer:{{0}}:delivery:dlv_{n}", mapping={
                    "id": f"dlv_{n}", "account_id": account.id, "timer_id": timer_id,
                    "event_id": "evt", "url": "https://example.com/h", "body": BODY,
                    "due_ms": T0 + n, "status": "pending", "attempts": 0})
                await client.zadd("castimer:{0}:outbox", {f"dlv_{n}": T0 + n})
        finally:
            await old.close()
        async with opened(redis.url) as engine:
            claimed = await engine.claim_deliveries(T0 + 10, 10, 30_000)
            assert [c.delivery.id for c in claimed] == ["dlv_0", "dlv_2"]
            assert claimed[0].delivery.created_at_ms == T0
            delivery, _ = await engine.get_delivery("dlv_1")
            assert delivery.status == "pending"
            page, _ = await engine.list_deliveries(account.id, "tmr_a", None, 10)
            assert [d.id for d in page] == ["dlv_1", "dlv_0"]
    finally:
        redis.stop()
