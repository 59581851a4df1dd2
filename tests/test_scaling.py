"""Many processes on one Redis, or on a Redis Cluster: every deadline fires exactly once
whoever fires it, a killed process's work is taken over, a viewer on one process sees what the
other did, and a Redis outage is a prompt 503 that heals by itself."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from server import commit
from server.clock import now_ms
from server.engines import create_engine
from tests.servers import RedisCluster, RedisServer, Server, client, make_key


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "redis-cluster"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[RedisServer | RedisCluster]:
    """A Redis of the test's own, or the session's three-master cluster, emptied."""
    if request.param == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        yield cluster
        return
    # Not durable: no test here restarts it, and its setups (1,000 countdowns made in a few
    # seconds) must not wait on a CI machine's busy disk.
    server = RedisServer(tmp_path, durable=False).start()
    yield server
    server.stop()


@pytest.fixture
def two_servers(store, tmp_path) -> Iterator[tuple[Server, Server]]:
    first = Server(store.url, tmp_path).start()
    second = Server(store.url, tmp_path).start()
    yield first, second
    first.stop()
    second.stop()


def start_countdowns(url: str, count: int, first_due_ms: int, spacing_ms: float,
                     owners: tuple[str, ...] = ("acct_load",)) -> list[str]:
    """`count` running countdowns of the `owners` in turn, made through the commit path,
    reaching zero from `first_due_ms` on, one every `spacing_ms`."""

    async def make() -> list[str]:
        engine = create_engine(url)
        await engine.open()
        made = []
        try:
            for n in range(count):
                started = first_due_ms + round(n * spacing_ms) - 3000
                owner = owners[n % len(owners)]
                timer = await commit.create(engine, owner,
                                            {"type": "countdown", "duration": 3},
                                            clock=lambda s=started: s)
                await commit.command(engine, owner, timer.id, "start",
                                     clock=lambda s=started: s)
                made.append(timer.id)
        finally:
            await engine.close()
        return made

    return asyncio.run(make())


def completion_events(url: str, account_id: str = "acct_load") -> list[dict]:
    async def read() -> list[dict]:
        engine = create_engine(url)
        await engine.open()
        found: list[dict] = []
        cursor = None
        try:
            while True:
                page, cursor = await engine.list_events(account_id, cursor, 500)
                found += [body for body in map(orjson.loads, (r.body for r in page))
                          if body["event"] == "timer.completed"]
                if cursor is None:
                    return found
        finally:
            await engine.close()

    return asyncio.run(read())


def completions(url: str) -> collections.Counter[str]:
    return collections.Counter(e["timer_id"] for e in completion_events(url))


def committed_at_ms(event: dict) -> float:
    """When the completion was committed: its deadline plus its lateness."""
    deadline = dt.datetime.fromisoformat(event["timestamp"]).timestamp() * 1000
    return deadline + event["data"]["late_ms"]


def wait_for_completions(url: str, expected: int, within: float) -> collections.Counter[str]:
    deadline = time.monotonic() + within
    while True:
        fired = completions(url)
        if sum(fired.values()) >= expected or time.monotonic() > deadline:
            return fired
        time.sleep(0.25)


def test_two_processes_fire_500_deadlines_in_one_window_exactly_once(store, two_servers):
    due = now_ms() + 4000
    made = start_countdowns(store.url, 500, due, spacing_ms=4)  # all within 2 s
    time.sleep(max(0, (due - now_ms()) / 1000))
    fired = wait_for_completions(store.url, 500, within=20)
    time.sleep(1.0)  # any double firing would have happened by now
    fired = completions(store.url)
    assert set(fired) == set(made)
    assert set(fired.values()) == {1}


def test_sigkill_one_of_two_processes_while_1000_deadlines_are_due(store, two_servers):
    doomed, survivor = two_servers
    due = now_ms() + 8000
    made = start_countdowns(store.url, 1000, due, spacing_ms=2)  # due over 2 s
    assert now_ms() < due - 1000, "the setup ran past the first deadline: too slow a machine"
    time.sleep(max(0, (due - now_ms()) / 1000) + 1.0)  # both have been firing for 1 s
    doomed.kill()
    killed_at = now_ms()
    wait_for_completions(store.url, 1000, within=30)
    time.sleep(1.0)
    events = completion_events(store.url)
    fired = collections.Counter(e["timer_id"] for e in events)
    assert survivor.process is not None and survivor.process.poll() is None
    assert set(fired) == set(made)
    assert set(fired.values()) == {1}
    # The survivor carried on alone: some fired before the kill, hundreds after it.
    after_kill = sum(committed_at_ms(e) > killed_at for e in events)
    assert 300 <= after_kill < 1000


def test_a_change_on_one_process_is_visible_on_the_other_at_once(store, two_servers):
    key = make_key(store.url)
    first, second = two_servers
    with client(first, key) as on_a, client(second, key) as on_b:
        timer = on_a.post("/timers", json={"type": "countdown", "duration": 60}).json()
        changed = on_a.patch(f"/timers/{timer['id']}/state", json={"state": "running"}).json()
        seen = on_b.get(f"/timers/{timer['id']}").json()
        assert (seen["state"], seen["version"]) == ("running", changed["version"])
        paused = on_b.patch(f"/timers/{timer['id']}/state", json={"state": "paused"}).json()
        assert on_a.get(f"/timers/{timer['id']}").json()["version"] == paused["version"]


def timed(call) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = call()
    return response, time.monotonic() - began


@pytest.mark.parametrize("outage", ["killed", "frozen"])
def test_redis_outage_answers_503_promptly_and_heals_without_restart(redis, tmp_path, outage):
    server = Server(redis.url, tmp_path).start()
    key = make_key(redis.url)
    try:
        with client(server, key) as api:
            long = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            short = api.post("/timers", json={"type": "countdown", "duration": 2}).json()
            for timer in (long, short):
                api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
            if outage == "killed":
                redis.kill()  # the append-only file has every acknowledged write
            else:
                os.kill(redis.process.pid, signal.SIGSTOP)  # up but silent: the nasty case
            began = time.monotonic()
            answers = []
            while time.monotonic() - began < 5:
                answers.append(timed(lambda: api.get(f"/timers/{long['id']}")))
                answers.append(timed(lambda: api.patch(f"/timers/{long['id']}/state",
                                                       json={"state": "paused"})))
            ready = httpx.get(f"{server.base}/readyz", timeout=10)
            assert ready.status_code == 503
            assert httpx.get(f"{server.base}/healthz").status_code == 200
            if outage == "killed":
                redis.start()
            else:
                os.kill(redis.process.pid, signal.SIGCONT)
            for response, took in answers:
                assert response.status_code == 503, response.text
                assert response.json()["error"]["type"] == "service_unavailable"
                assert took < 2.0
            recovered = None
            for _ in range(100):
                recovered = api.get(f"/timers/{long['id']}")
                if recovered.status_code == 200:
                    break
                time.sleep(0.1)
            assert recovered is not None and recovered.status_code == 200
            assert recovered.json()["state"] == "running"
            assert recovered.json()["version"] == long["version"] + 1  # the pauses never landed
            # `short` came due during the outage: it fires once after Redis returns.
            deadline = time.monotonic() + 10
            while api.get(f"/timers/{short['id']}").json()["state"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(0.5)
            log = api.get("/events", params={"timer_id": short["id"]}).json()["data"]
            assert [e["event"] for e in log] == ["timer.started", "timer.completed"]
            assert api.patch(f"/timers/{long['id']}/state",
                             json={"state": "paused"}).json()["state"] == "paused"
    finally:
        server.stop()


def test_a_viewer_on_one_process_sees_a_command_sent_to_the_other(store, two_servers):
    from tests.ws.helpers import presenter, receive, until, viewer

    first, second = two_servers
    key = make_key(store.url)
    with client(first, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    token = timer["urls"]["control"].split("#token=", 1)[1]

    async def scenario() -> None:
        async with await viewer(first, timer["id"]) as watching, \
                await presenter(second, timer["id"], {"token": token}) as controlling:
            await receive(watching)
            await receive(controlling)
            await controlling.send(orjson.dumps({"type": "command", "req": 1,
                                                 "command": "start"}).decode())
            ack = await until(controlling, "ack")
            seen = await until(watching, "state", timeout=2)
            assert (seen["event"], seen["v"]) == ("timer.started", ack["v"])
            assert seen["_received"] - seen["server_time"] < 200
            tick = await until(watching, "tick", timeout=2)  # process A ticks it too
            assert tick["remaining_ms"] % 1000 == 0 and tick["v"] == ack["v"]

    asyncio.run(scenario())
