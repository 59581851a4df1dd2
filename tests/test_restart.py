"""Durability: a server killed mid-countdown comes back with its timers counting from where
the clock says, and a deadline that passed while it was down fires exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time

import httpx
import pytest

from server import accounts
from server.clock import now_ms
from server.engines import create_engine
from tests.api.test_lifecycle import events_of, wait_for_state
from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key


def test_sigkill_mid_countdown_then_restart(tmp_path, private_engine_url):
    url = private_engine_url
    first = Server(url, tmp_path).start()
    key = make_key(url)
    try:
        with client(first, key) as api:
            long = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            short = api.post("/timers", json={"type": "countdown", "duration": 1}).json()
            api.patch(f"/timers/{long['id']}/state", json={"state": "running"})
            api.patch(f"/timers/{short['id']}/state", json={"state": "running"})
            before = api.get(f"/timers/{long['id']}").json()
        first.kill()  # SIGKILL while both run; `short` is due while the server is down
        time.sleep(2.0)
    finally:
        first.stop()
    second = Server(url, tmp_path, port=first.port).start()
    try:
        with client(second, key) as api:
            after = api.get(f"/timers/{long['id']}").json()
            assert after["state"] == "running" and after["version"] == before["version"]
            passed_ms = after["server_time"] - before["server_time"]
            assert abs((before["remaining_ms"] - after["remaining_ms"]) - passed_ms) <= 5
            wait_for_state(api, short["id"], "completed", within=5)
            completions = [e for e in events_of(api, short["id"])
                           if e["event"] == "timer.completed"]
            assert len(completions) == 1
            # Due 1 s after its start, while the server was down for 2 s: it fired late, once,
            # and says by how much.
            assert completions[0]["data"]["late_ms"] >= 900
        second.stop()
        third = Server(url, tmp_path, port=first.port).start()  # and never again after that
        try:
            time.sleep(0.6)
            with client(third, key) as api:
                assert [e["event"] for e in events_of(api, short["id"])].count(
                    "timer.completed") == 1
        finally:
            third.stop()
    finally:
        second.stop()


def _spend_the_day(url: str, plan: str, requests: int) -> str:
    """A key for a new account on `plan` that has already made `requests` requests today,
    counted by the store's own rate limiter (on a budget with room for them), then closed as
    a stopping server closes it."""

    async def spend() -> str:
        engine = create_engine(url)
        await engine.open()
        try:
            account, key = await accounts.key_for(engine, f"busy-{time.time_ns()}", plan,
                                                  now_ms())
            for _ in range(requests):
                await engine.hit_rate_limit(account.id, accounts.PLANS["unlimited"], now_ms())
            return key
        finally:
            await engine.close()

    return asyncio.run(spend())


def test_the_days_requests_and_cap_survive_a_restart_on_sqlite(tmp_path):
    """The daily cap holds per day, not per process lifetime: a clean stop writes the counts,
    and the next process refuses the request over the cap."""
    url = sqlite_url(tmp_path)
    day = time.time() // 86400
    cap = accounts.PLANS["free"].per_day
    key = _spend_the_day(url, "free", cap - 5)
    first = Server(url, tmp_path).start()
    try:
        with client(first, key) as api:
            for _ in range(2):
                answer = api.get("/timers")
            # Three left today: the day's window is the tighter one, and the headers say it.
            assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]
                    ) == (str(cap), "3")
    finally:
        first.stop()
    second = Server(url, tmp_path, port=first.port).start()
    try:
        with client(second, key) as api:
            after = api.get("/account")
            assert after.json()["usage"]["requests_today"] == cap - 2
            assert after.headers["X-RateLimit-Remaining"] == "2"
            assert [api.get("/timers").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        second.stop()
    if time.time() // 86400 != day:
        pytest.skip("the UTC day turned during the test: its counts started again")


def test_a_start_scheduled_while_the_only_sqlite_server_was_down_fires_late_but_anchored(
        tmp_path):
    import datetime as dt

    url = sqlite_url(tmp_path)
    first = Server(url, tmp_path).start()
    key = make_key(url)
    start_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)).isoformat(
        timespec="milliseconds")
    try:
        with client(first, key) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 60,
                                              "start_at": start_at}).json()
    finally:
        first.stop()
    time.sleep(3.0)  # start_at passes with no server running
    second = Server(url, tmp_path, port=first.port).start()
    try:
        with client(second, key) as api:
            running = wait_for_state(api, timer["id"], "running", within=5)
            [started] = events_of(api, timer["id"])
    finally:
        second.stop()
    assert running["started_at"] == started["data"]["started_at"]
    assert dt.datetime.fromisoformat(running["started_at"]) == dt.datetime.fromisoformat(
        start_at)
    assert started["data"]["scheduled"] is True and started["data"]["late_ms"] >= 1500
    # It has run since start_at, not since the server noticed.
    start_ms = round(dt.datetime.fromisoformat(start_at).timestamp() * 1000)
    assert running["remaining_ms"] == 60_000 - (running["server_time"] - start_ms)
    assert running["elapsed_ms"] >= started["data"]["late_ms"] >= 1500


def test_sigkill_under_patch_load_loses_no_acknowledged_change(tmp_path, private_engine_url):
    """Sixteen writers flip twenty timers between running and paused as fast as they are
    answered (on SQLite the commits go out in groups, one fsync each) until the server is
    killed; after a restart, every change it answered 200 to is stored, its event logged."""
    url = private_engine_url
    first = Server(url, tmp_path).start()
    key = make_key(url, plan="unlimited")
    with client(first, key) as api:
        ids = [api.post("/timers", json={"type": "countdown", "duration": 600}).json()["id"]
               for _ in range(20)]
        for timer_id in ids:
            api.patch(f"/timers/{timer_id}/state", json={"state": "running"})
    acknowledged: dict[str, int] = {}

    async def writer(n: int, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=f"{first.base}/api/v1", timeout=5,
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            for turn in itertools.count():
                timer_id = ids[(n + turn * 16) % len(ids)]
                state = "running" if turn % 2 == 0 else "paused"
                try:
                    answer = await http.patch(f"/timers/{timer_id}/state",
                                              json={"state": state})
                except httpx.TransportError:
                    if stop.is_set():
                        return
                    raise
                assert answer.status_code == 200, answer.text
                version = answer.json()["version"]
                acknowledged[timer_id] = max(acknowledged.get(timer_id, 0), version)

    async def load_then_kill() -> None:
        stop = asyncio.Event()
        writers = [asyncio.create_task(writer(n, stop)) for n in range(16)]
        while sum(acknowledged.values()) < 400 and not any(w.done() for w in writers):
            await asyncio.sleep(0.01)
        stop.set()
        first.kill()
        await asyncio.gather(*writers)

    try:
        asyncio.run(load_then_kill())
    finally:
        first.stop()
    assert len(acknowledged) == len(ids)
    second = Server(url, tmp_path, port=first.port).start()
    try:
        with client(second, key) as api:
            for timer_id, version in acknowledged.items():
                stored = api.get(f"/timers/{timer_id}").json()["version"]
                assert stored >= version, timer_id
                logged = {e["version"] for e in api.get(
                    "/events", params={"timer_id": timer_id, "limit": 500}).json()["data"]}
                assert set(range(2, version + 1)) <= logged, timer_id
    finally:
        second.stop()


def ms(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def test_a_show_that_ran_on_while_its_server_was_down_catches_up_anchored(tmp_path,
                                                                         private_engine_url):
    """Three 1 s timers of an auto-advancing rundown; the only server is killed as the first
    starts and comes back 4 s later: each timer completes once, each next one started at the
    completion before it, as if the server had never gone."""
    url = private_engine_url
    first = Server(url, tmp_path).start()
    key = make_key(url)
    try:
        with client(first, key) as api:
            ids = [api.post("/timers", json={"type": "countdown", "duration": 1}).json()["id"]
                   for _ in range(3)]
            rundown = api.post("/rundowns", json={"timers": ids, "auto_advance": True}).json()
            started = api.patch(f"/timers/{ids[0]}/state", json={"state": "running"}).json()
        first.kill()
        time.sleep(4.0)
    finally:
        first.stop()
    second = Server(url, tmp_path, port=first.port).start()
    try:
        with client(second, key) as api:
            deadline = time.monotonic() + 10
            while not api.get(f"/rundowns/{rundown['id']}").json()["completed_at"]:
                assert time.monotonic() < deadline, "the show did not catch up"
                time.sleep(0.05)
            shown = [api.get(f"/timers/{i}").json() for i in ids]
            begun = [ms(t["started_at"]) for t in shown]
            assert begun == [ms(started["started_at"]) + 1000 * n for n in range(3)]
            for timer_id in ids:
                assert [e["event"] for e in events_of(api, timer_id)].count(
                    "timer.completed") == 1
            log = api.get("/events", params={"timer_id": rundown["id"]}).json()["data"]
            assert [e["event"] for e in log] == ["rundown.advanced"] * 2 + ["rundown.completed"]
    finally:
        second.stop()
