"""Writes tests/data/redis_store_before_shards.json: a Redis store as the code before shards
(commit c8e09ff, every key under the one tag `{0}`) left it, for
tests/engines/test_store_before_shards.py. It was run once, with that commit's tree first on
the path:

    git archive c8e09ff | tar -x -C /tmp/before-shards
    PYTHONPATH=/tmp/before-shards .venv/bin/python tests/data/make_redis_store_before_shards.py

and the JSON committed. Values are base64, since Redis keeps bytes."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import tempfile
from pathlib import Path

import redis

from server import accounts, commit
from server.engines import create_engine
from tests.servers import RedisServer

T0 = 1_790_000_000_000  # 2026-09-21: long past, so every deadline below is due


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def write(url: str) -> dict[str, str]:
    engine = create_engine(url)
    await engine.open()
    try:
        account, key = await accounts.key_for(engine, "before-shards", "pro", T0)
        hooked = await commit.create(engine, account.id, {
            "type": "countdown", "duration": 60, "title": "Keynote",
            "webhook_url": "https://hooks.example.com/castimer"}, clock=lambda: T0)
        await commit.command(engine, account.id, hooked.id, "start", clock=lambda: T0 + 1000)
        plain = await commit.create(engine, account.id, {"type": "countdown", "duration": 300,
                                                        "title": "Q&A"}, clock=lambda: T0)
        show = await commit.create_rundown(engine, account.id, {
            "title": "Morning", "timers": [hooked.id, plain.id]}, clock=lambda: T0 + 2000)
        return {"key": key, "account_id": account.id, "hooked": hooked.id, "plain": plain.id,
                "rundown": show.id}
    finally:
        await engine.close()


def dump(port: int) -> list[dict]:
    r = redis.Redis(port=port)
    out = []
    for name in sorted(r.keys("*")):
        kind = r.type(name).decode()
        item: dict = {"key": b64(name), "type": kind}
        if kind == "string":
            item["value"] = b64(r.get(name))
        elif kind == "hash":
            item["value"] = {b64(k): b64(v) for k, v in sorted(r.hgetall(name).items())}
        elif kind == "zset":
            item["value"] = [[b64(m), s] for m, s in r.zrange(name, 0, -1, withscores=True)]
        elif kind == "set":
            item["value"] = sorted(b64(m) for m in r.smembers(name))
        elif kind == "list":
            item["value"] = [b64(v) for v in r.lrange(name, 0, -1)]
        elif kind == "stream":
            item["value"] = [[entry.decode(), {b64(k): b64(v) for k, v in fields.items()}]
                             for entry, fields in r.xrange(name)]
        else:
            raise SystemExit(f"no dump for {kind}")
        out.append(item)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            made = asyncio.run(write(server.url))
            data = {"written_by": "c8e09ff", "made": made, "keys": dump(server.port)}
        finally:
            server.stop()
    target = Path(__file__).with_name("redis_store_before_shards.json")
    target.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(data['keys'])} keys → {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
