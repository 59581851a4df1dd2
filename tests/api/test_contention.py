"""Many writers on one timer: a request that sends no `expected_version` asks for its change
to be applied, whatever else changes the timer meanwhile, so it never gets 409."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.servers import RedisServer, Server, make_key

WRITERS = 8
ADJUSTS_EACH = 25


async def adjust_concurrently(bases: list[str], key: str, timer_id: str) -> Counter[int]:
    """`WRITERS` clients, each on its own connection to one of `bases` in turn, each adding
    one second `ADJUSTS_EACH` times as fast as it is answered; the statuses counted."""
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {key}"}

    async def writer(base: str) -> None:
        async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers,
                                     timeout=30) as http:
            for _ in range(ADJUSTS_EACH):
                answer = await http.post(f"/timers/{timer_id}/adjust", json={"seconds": 1})
                statuses[answer.status_code] += 1

    await asyncio.gather(*(writer(bases[n % len(bases)]) for n in range(WRITERS)))
    return statuses


def check_every_adjust_applied(servers: list[Server], key: str) -> None:
    with httpx.Client(base_url=f"{servers[0].base}/api/v1",
                      headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        timer = http.post("/timers", json={"type": "countdown", "duration": 60}).json()
        statuses = asyncio.run(adjust_concurrently([s.base for s in servers], key,
                                                   timer["id"]))
        assert statuses == {200: WRITERS * ADJUSTS_EACH}
        after = http.get(f"/timers/{timer['id']}").json()
    assert after["adjustment"] == WRITERS * ADJUSTS_EACH
    assert after["version"] == timer["version"] + WRITERS * ADJUSTS_EACH


def test_eight_writers_to_one_timer_get_no_conflict(server, key):
    """One process takes turns per timer (SQLite answered 409 to ~10 % of these before)."""
    check_every_adjust_applied([server], key)


def test_eight_writers_on_eight_redis_processes_get_no_conflict(tmp_path):
    """Processes cannot take turns: here only the retries' random backoff keeps eight racing
    commits from losing eight times in a row (without it some got 409)."""
    redis = RedisServer(tmp_path).start()
    servers = [Server(redis.url, tmp_path).start() for _ in range(8)]
    try:
        check_every_adjust_applied(servers, make_key(redis.url))
    finally:
        for running in servers:
            running.stop()
        redis.stop()
