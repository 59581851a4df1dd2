"""A Redis store written before keys were spread over shards (every key under `{0}`, by the
code of commit c8e09ff: tests/data/make_redis_store_before_shards.py) opens with today's code
as a store of one shard, keeps every key where it was, and works: its key authenticates, its
timers are read, changed and fired, its show advances, its pending delivery is claimed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from server.engines import redis_keys as keys
from tests.conftest import opened
from tests.servers import RedisServer, Server, client

DATA = Path(__file__).parent.parent / "data" / "redis_store_before_shards.json"
pytestmark = pytest.mark.anyio


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def load(port: int) -> dict[str, str]:
    """Write the recorded store into the redis-server on `port`; what was made in it."""
    data = json.loads(DATA.read_text())
    r = redis_py.Redis(port=port)
    for item in data["keys"]:
        name, value = _b(item["key"]), item["value"]
        if item["type"] == "string":
            r.set(name, _b(value))
        elif item["type"] == "hash":
            r.hset(name, mapping={_b(k): _b(v) for k, v in value.items()})
        elif item["type"] == "zset":
            r.zadd(name, {_b(m): score for m, score in value})
        elif item["type"] == "set":
            r.sadd(name, *(_b(m) for m in value))
        elif item["type"] == "list":
            r.rpush(name, *(_b(v) for v in value))
        elif item["type"] == "stream":
            for entry, fields in value:
                r.xadd(name, {_b(k): _b(v) for k, v in fields.items()}, id=entry)
    r.close()
    return data["made"]


@pytest.fixture
def old_store(tmp_path) -> Iterator[tuple[RedisServer, dict[str, str]]]:
    server = RedisServer(tmp_path).start()
    made = load(server.port)
    yield server, made
    server.stop()


def stored_names(port: int) -> set[bytes]:
    r = redis_py.Redis(port=port)
    try:
        return set(r.keys("*"))
    finally:
        r.close()


async def test_the_engine_reads_it_as_one_shard_in_place(old_store):
    redis, made = old_store
    before = stored_names(redis.port)
    assert all(name.startswith(b"castimer:{0}:") for name in before)
    async with opened(redis.url) as engine:
        assert engine.shards == 1
        account = await engine.find_account("before-shards")
        assert account is not None and account.id == made["account_id"]
        assert await engine.get_timer(made["hooked"]) is not None
        assert await engine.rundowns_of(made["plain"]) == [made["rundown"]]
        events, _ = await engine.list_events(account.id, None, 10)
        assert [json.loads(e.body)["event"] for e in events] == ["timer.started"]
        claimed = await engine.claim_deliveries(int(time.time() * 1000), 10, 30_000)
        assert [c.delivery.timer_id for c in claimed] == [made["hooked"]]
        assert claimed[0].account.id == account.id
    # Nothing moved; the one key added records the shard count.
    assert stored_names(redis.port) - before == {keys.SHARDS.encode()}
    assert before <= stored_names(redis.port)


def test_a_server_on_it_serves_its_key_timers_and_show(old_store, tmp_path):
    redis, made = old_store
    server = Server(redis.url, tmp_path).start()
    try:
        with client(server, made["key"]) as api:
            # The running countdown's deadline passed long ago: the scheduler fires it.
            deadline = time.monotonic() + 10
            while api.get(f"/timers/{made['hooked']}").json()["state"] != "completed":
                assert time.monotonic() < deadline, "the old timer's deadline never fired"
                time.sleep(0.05)
            started = api.patch(f"/timers/{made['plain']}/state", json={"action": "start"})
            assert started.status_code == 200 and started.json()["state"] == "running"
            show = api.post(f"/rundowns/{made['rundown']}/advance", json={"to": "next"})
            assert show.status_code == 200, show.text
            assert show.json()["current"] == made["plain"]
            names = [e["event"] for e in api.get("/events", params={"limit": 100}).json()["data"]]
            assert names.count("timer.started") == 2 and "timer.completed" in names
            listed = api.get(f"/timers/{made['hooked']}/deliveries").json()["data"]
            assert {d["event"] for d in listed} >= {"timer.started", "timer.completed"}
            fresh = api.post("/timers", json={"type": "countdown", "duration": 5}).json()
            assert api.get(f"/timers/{fresh['id']}").status_code == 200
    finally:
        server.stop()
    assert all(name.startswith(b"castimer:{0}:") for name in stored_names(redis.port))
