"""At-least-once across crashes: SIGKILL a server with 200 deliveries pending to a slow receiver;
what it had claimed is taken over when the lease runs out, and every delivery arrives. Any
duplicate carries the same delivery id (and the same body)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.servers import RedisServer, Server, client, make_key
from tests.webhooks.conftest import HOOK_ENV
from tests.webhooks.receiver import Answer, Receiver

COUNT = 200
#: A slow receiver (1 s an answer) and 40 attempts at once per process: the 200 take ~5 s, so
#: the kill lands mid-way. The lease (3 s) outlives the timeout (2 s).
CRASH_ENV = {**HOOK_ENV, "CASTIMER_WEBHOOK_CONCURRENCY": "40"}


def start_timers(api: httpx.Client, url: str) -> list[str]:
    ids = []
    for _ in range(COUNT):
        answer = api.post("/timers", json={"type": "countdown", "duration": 3600,
                                           "webhook_url": url,
                                           "webhook_events": ["timer.started"]})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    for timer_id in ids:
        assert api.patch(f"/timers/{timer_id}/state",
                         json={"action": "start"}).status_code == 200
    return ids


def kill_mid_way(receiver: Receiver, victim: Server) -> int:
    receiver.wait("/slow", 10)
    victim.kill()
    return len(receiver.at("/slow"))


def all_arrive(receiver: Receiver, api: httpx.Client, timers: list[str]) -> None:
    deadline = time.monotonic() + 60
    while len({r.headers["webhook-id"] for r in receiver.at("/slow")}) < COUNT:
        assert time.monotonic() < deadline, (
            f"{len({r.headers['webhook-id'] for r in receiver.at('/slow')})} of {COUNT} arrived")
        time.sleep(0.1)
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for request in receiver.at("/slow"):
        by_id[request.headers["webhook-id"]].add(request.body)
    assert len(by_id) == COUNT
    assert all(len(bodies) == 1 for bodies in by_id.values()), "a duplicate changed its body"
    delivered = set()
    for timer_id in timers:
        [delivery] = api.get(f"/timers/{timer_id}/deliveries").json()["data"]
        delivered.add(delivery["id"])
    assert delivered == set(by_id)


def test_sigkill_loses_no_delivery_on_sqlite(tmp_path: Path):
    with Receiver() as receiver:
        receiver.answers["/slow"] = Answer(delay=1.0)
        url = f"sqlite:///{tmp_path}/castimer.db"
        server = Server(url, tmp_path, env=CRASH_ENV).start()
        try:
            with client(server, make_key(url)) as api:
                timers = start_timers(api, receiver.url("/slow"))
                seen = kill_mid_way(receiver, server)
                assert seen < COUNT
                server = Server(url, tmp_path, env=CRASH_ENV, port=server.port).start()
                all_arrive(receiver, api, timers)
        finally:
            server.stop()


@pytest.mark.parametrize("store", ["redis", "redis-cluster"])
def test_sigkill_of_one_of_two_processes_loses_no_delivery_on_redis(
        store: str, tmp_path: Path, request: pytest.FixtureRequest):
    if store == "redis-cluster":
        redis = request.getfixturevalue("redis_cluster")
        redis.flush()
    else:
        redis = RedisServer(tmp_path).start()
    first = Server(redis.url, tmp_path, env=CRASH_ENV).start()
    second = Server(redis.url, tmp_path, env=CRASH_ENV).start()
    try:
        with Receiver() as receiver:
            receiver.answers["/slow"] = Answer(delay=1.0)
            with client(first, make_key(redis.url)) as api:
                timers = start_timers(api, receiver.url("/slow"))
                seen = kill_mid_way(receiver, first)
                assert seen < COUNT
                first = Server(redis.url, tmp_path, env=CRASH_ENV, port=first.port).start()
                all_arrive(receiver, api, timers)
    finally:
        first.stop()
        second.stop()
        if store == "redis":
            redis.stop()
