"""The live room across sockets and processes: messages and blackout reach every viewer and a
late joiner's snapshot; presence counts every viewer socket of every process; with two
processes on one Redis (or a Redis Cluster) each warning still fires once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

import pytest

from tests.servers import RedisServer, Server, client, make_key
from tests.ws.helpers import presenter, until, viewer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["redis", "redis-cluster"])
def two_servers(request: pytest.FixtureRequest,
                tmp_path) -> Iterator[tuple[Server, Server, str]]:
    """Two processes on one Redis of the test's own (or the session's Redis Cluster, emptied),
    and a key of a new account."""
    if request.param == "redis-cluster":
        redis = request.getfixturevalue("redis_cluster")
        redis.flush()
    else:
        redis = RedisServer(tmp_path).start()
    first = Server(redis.url, tmp_path).start()
    second = Server(redis.url, tmp_path).start()
    yield first, second, make_key(redis.url)
    first.stop()
    second.stop()
    if request.param == "redis":
        redis.stop()


async def presence(socket, viewers: int, timeout: float = 3.5) -> None:
    await until(socket, "presence", timeout, viewers=viewers)


async def test_presence_counts_viewers_on_every_process(two_servers):
    first, second, key = two_servers
    with client(first, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
        sockets = [await viewer(first, timer["id"]) for _ in range(3)]
        sockets += [await viewer(second, timer["id"]) for _ in range(2)]
        try:
            await asyncio.gather(*(presence(s, 5) for s in sockets))
            assert api.get(f"/timers/{timer['id']}").json()["viewers"] == 5
            for socket in sockets[1:]:
                await socket.close()
            await presence(sockets[0], 1)
            assert api.get(f"/timers/{timer['id']}").json()["viewers"] == 1
            listed = api.get("/timers").json()["data"]
            assert [t["viewers"] for t in listed if t["id"] == timer["id"]] == [1]
        finally:
            for socket in sockets:
                await socket.close()


async def test_a_presenter_joining_a_counted_room_hears_the_count_at_once(server, api):
    """The count is broadcast when it changes, and a presenter's joining changes nothing: it
    must be told the count with its snapshot, or its page would show no viewers until the
    next change."""
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    token = timer["urls"]["control"].split("#token=")[1]
    watching = await viewer(server, timer["id"])
    try:
        await presence(watching, 1)
        socket = await presenter(server, timer["id"], {"token": token})
        try:
            await until(socket, "snapshot")
            await presence(socket, 1, timeout=0.8)  # well before the next round could say it
        finally:
            await socket.close()
    finally:
        await watching.close()


async def test_messages_and_blackout_reach_every_process_and_late_joiners(two_servers):
    first, second, key = two_servers
    with client(first, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
        here, there = await viewer(first, timer["id"]), await viewer(second, timer["id"])
        try:
            await until(here, "snapshot")
            await until(there, "snapshot")
            text = "<script>alert('x')</script> questions now"
            assert api.put(f"/timers/{timer['id']}/message",
                           json={"text": text, "flash": True}).status_code == 200
            for socket in (here, there):
                got = await until(socket, "state", event="timer.message")
                assert got["timer"]["message"]["text"] == text
                assert got["timer"]["message"]["flash"] is True
            api.patch(f"/timers/{timer['id']}", json={"blackout": True})
            for socket in (here, there):
                got = await until(socket, "state")
                assert got["timer"]["blackout"] is True and got["event"] is None
            late = await viewer(second, timer["id"])
            snapshot = await until(late, "snapshot")
            assert snapshot["timer"]["message"]["text"] == text
            assert snapshot["timer"]["blackout"] is True
            await late.close()
        finally:
            await here.close()
            await there.close()


async def test_each_warning_fires_once_with_two_processes(two_servers):
    first, second, key = two_servers
    with client(first, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 3, "warn_at": 2,
                                          "danger_at": 1}).json()
        watching = await viewer(second, timer["id"])
        try:
            api.patch(f"/timers/{timer['id']}/state", json={"action": "start"})
            await until(watching, "state", timeout=8, event="timer.completed")
        finally:
            await watching.close()
        names = [(e["event"], e["data"].get("level"))
                 for e in api.get("/events", params={"timer_id": timer["id"]}).json()["data"]]
        assert names == [("timer.started", None), ("timer.warning", "warning"),
                         ("timer.warning", "danger"), ("timer.completed", None)]


async def test_presenters_control_the_live_room_over_the_socket(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 2,
                                      "overtime": True}).json()
    token = timer["urls"]["control"].split("#token=")[1]
    socket = await presenter(server, timer["id"], {"token": token})
    watching = await viewer(server, timer["id"])
    try:
        await until(socket, "snapshot")
        await presence(socket, 1)  # the viewer counts; the presenter does not
        for n, command in enumerate([{"command": "message", "text": "wrap up"},
                                     {"command": "blackout", "on": True},
                                     {"command": "clear_message"},
                                     {"command": "start"}]):
            await socket.send(json.dumps({"type": "command", "req": n, **command}))
            ack = await until(socket, "ack", req=n)
            assert ack["ok"], ack
        await until(watching, "state", timeout=5, event="timer.completed")
        tick = await until(watching, "tick", timeout=3)
        assert tick["timer"]["state"] == "overtime" and tick["remaining_ms"] <= -1000
        assert tick["timer"]["blackout"] is True and tick["timer"]["message"] is None
        await socket.send('{"type": "command", "req": "s", "command": "stop"}')
        assert (await until(socket, "ack", req="s"))["ok"]
        stopped = await until(watching, "state", event="timer.stopped")
        assert stopped["timer"]["state"] == "completed"
        await socket.send('{"type": "command", "req": "b", "command": "blackout"}')
        refused = await until(socket, "ack", req="b")
        assert not refused["ok"] and "on" in refused["error"]["message"]
    finally:
        with contextlib.suppress(Exception):
            await socket.close()
        await watching.close()


async def test_a_socket_that_asks_not_to_be_counted_is_not(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    owner = await viewer(server, f"{timer['id']}?count=0")
    screen = await viewer(server, timer["id"])
    try:
        await presence(owner, 1)
        assert api.get(f"/timers/{timer['id']}").json()["viewers"] == 1
    finally:
        await owner.close()
        await screen.close()


async def test_a_dead_processs_viewers_stop_counting_within_30_s(two_servers):
    first, second, key = two_servers
    with client(first, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
        here = await viewer(first, timer["id"])
        there = [await viewer(second, timer["id"]) for _ in range(2)]
        try:
            await presence(here, 3)
            second.kill()  # SIGKILL: it cannot say goodbye; its records must expire
            await presence(here, 1, timeout=30)
            assert api.get(f"/timers/{timer['id']}").json()["viewers"] == 1
        finally:
            await here.close()
            for socket in there:
                with contextlib.suppress(Exception):
                    await socket.close()
