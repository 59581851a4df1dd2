"""Viewers of a real server get the snapshot, whole-second ticks and every transition."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.ws.helpers import receive, until, viewer

pytestmark = pytest.mark.anyio


async def test_snapshot_then_whole_second_ticks_then_pause_and_reset(server, api):
    timer = api.post("/timers", json={"title": "Talk", "type": "countdown",
                                      "duration": 30}).json()
    async with await viewer(server, timer["id"]) as socket:
        snapshot = await receive(socket)
        assert snapshot["type"] == "snapshot" and snapshot["v"] == 1
        assert snapshot["timer"]["title"] == "Talk" and snapshot["timer"]["state"] == "idle"
        assert "control_token" not in json.dumps(snapshot)
        assert "webhook_url" not in snapshot["timer"]

        api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
        started = await until(socket, "state")
        assert (started["event"], started["v"]) == ("timer.started", 2)
        ticks = [await until(socket, "tick", timeout=3) for _ in range(3)]
        assert [t["remaining_ms"] for t in ticks] == [29_000, 28_000, 27_000]
        for tick in ticks:
            assert tick["remaining_ms"] % 1000 == 0 and tick["v"] == 2
            assert tick["timer"]["remaining_ms"] == tick["remaining_ms"]
            assert tick["state"] == "running"
            # remaining at the tick's own server_time is whole: it is the boundary instant
            assert tick["server_time"] - started["timer"]["server_time"] == pytest.approx(
                30_000 - tick["remaining_ms"] - (30_000 - started["timer"]["remaining_ms"]),
                abs=1)
        gaps = [b["server_time"] - a["server_time"] for a, b in itertools.pairwise(ticks)]
        assert gaps == [1000, 1000]
        assert all(t["_received"] - t["server_time"] < 200 for t in ticks)

        api.patch(f"/timers/{timer['id']}/state", json={"state": "paused"})
        paused = await until(socket, "state")
        assert (paused["event"], paused["v"], paused["timer"]["state"]) == (
            "timer.paused", 3, "paused")
        with pytest.raises(TimeoutError):
            await until(socket, "tick", timeout=1.6)  # no ticks while paused

        api.patch(f"/timers/{timer['id']}/state", json={"state": "idle"})
        reset = await until(socket, "state")
        assert (reset["event"], reset["timer"]["state"], reset["v"]) == ("timer.reset", "idle", 4)


async def test_ping_is_answered_with_server_time_for_clock_offset(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 30}).json()
    async with await viewer(server, timer["id"]) as socket:
        await receive(socket)
        sent = time.time() * 1000
        await socket.send(json.dumps({"type": "ping", "t": sent}))
        pong = await until(socket, "pong")
        assert pong["t"] == sent
        assert sent - 5 <= pong["server_time"] <= pong["_received"] + 5


async def test_event_timers_tick_too_and_completion_and_deletion_reach_viewers(server, api):
    target = time.time() + 3.5
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(target)) + \
        f".{int(target % 1 * 1000):03d}Z"
    timer = api.post("/timers", json={"type": "event", "target_date": iso}).json()
    async with await viewer(server, timer["id"]) as socket:
        await receive(socket)
        tick = await until(socket, "tick", timeout=3)
        assert tick["remaining_ms"] % 1000 == 0 and tick["remaining_ms"] >= 1000
        done = await until(socket, "state", timeout=5, event="timer.completed")
        assert done["timer"]["state"] == "completed" and done["timer"]["remaining_ms"] == 0
        api.delete(f"/timers/{timer['id']}")
        gone = await until(socket, "deleted")
        assert gone["timer_id"] == timer["id"]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 3)
        assert closed.value.rcvd.code == 4410


async def test_unknown_timer_and_bad_frames_close_with_a_reason(server, api):
    async with await viewer(server, "tmr_nosuchtimer") as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4404, "no such timer")
    timer = api.post("/timers", json={"type": "countdown", "duration": 30}).json()
    for frame, code, says in [("not json", 1007, "JSON"), ("[1]", 1007, "JSON"),
                              (b"\x00\x01", 1003, "binary"),
                              ('{"type": "launch"}', 4400, "unknown message type"),
                              ('{"type": "command", "command": "start"}', 4400, "unknown"),
                              ('{"type": "ping", "t": "soon"}', 1007, "ping"),
                              ("x" * 5000, 1009, "at most 4096")]:
        async with await viewer(server, timer["id"], max_size=None) as socket:
            await receive(socket)
            await socket.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(socket.recv(), 3)
            assert closed.value.rcvd is not None, frame
            assert closed.value.rcvd.code == code, (frame, closed.value.rcvd)
            assert says in closed.value.rcvd.reason or code == 1009
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "idle"


async def test_a_viewer_that_reconnects_within_a_second_gets_each_tick_once(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
    for _ in range(5):  # leave and rejoin, each time between two ticks
        async with await viewer(server, timer["id"]) as socket:
            await receive(socket)
        await asyncio.sleep(0.05)
    async with await viewer(server, timer["id"]) as socket:
        await receive(socket)
        seen = [(await until(socket, "tick", timeout=2))["server_time"] for _ in range(3)]
        with pytest.raises(TimeoutError):  # nothing more until the next boundary
            extra = await until(socket, "tick", timeout=max(0.05, (seen[-1] + 950) / 1000
                                                            - time.time()))
            seen.append(extra["server_time"])
    assert len(set(seen)) == len(seen) == 3
    assert [b - a for a, b in itertools.pairwise(seen)] == [1000, 1000]


def test_the_websocket_routes_are_their_endpoints_unwrapped_and_keep_their_names():
    # Starlette wraps a function endpoint in `websocket_session` (~2 KB held per socket);
    # server/ws.py's endpoints are ASGI apps the router calls as they are.
    from server import ws
    from server.app import app

    routes = {getattr(route, "path", None): route for route in app.routes}
    for path, endpoint, name in (("/ws/timers/{timer_id}", ws.viewer, "viewer"),
                                 ("/ws/control/{timer_id}", ws.control, "control")):
        assert routes[path].app is endpoint
        assert routes[path].name == name
