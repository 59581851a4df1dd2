"""Presenters control a timer over `/ws/control/{id}`: authenticated by the first message, from
this server's Origin only, with acknowledged commands that go through the commit path."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.ws.helpers import presenter, receive, until, viewer

pytestmark = pytest.mark.anyio


def token_of(timer: dict) -> str:
    return timer["urls"]["control"].split("#token=", 1)[1]


async def closed_with(socket) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def command(socket, req: str, name: str, **extra) -> dict:
    await socket.send(json.dumps({"type": "command", "req": req, "command": name, **extra}))
    return await until(socket, "ack", req=req)


async def test_commands_are_acknowledged_and_appear_in_the_event_log(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    socket = await presenter(server, timer["id"], {"token": token_of(timer)},
                             origin=server.base)
    async with socket:
        assert (await receive(socket))["type"] == "snapshot"
        started = await command(socket, "a", "start")
        assert started == {**started, "ok": True, "v": 2}
        assert (await command(socket, "b", "adjust", seconds=30))["v"] == 3
        assert (await command(socket, "c", "pause", expected_version=3))["ok"]
        stale = await command(socket, "d", "resume", expected_version=2)
        assert (stale["ok"], stale["v"], stale["error"]["type"]) == (
            False, 4, "version_conflict")
        refused = await command(socket, "e", "pause")
        assert (refused["ok"], refused["error"]["type"]) == (False, "validation_error")
        assert "cannot pause a timer that is paused" in refused["error"]["message"]
        odd = await command(socket, "f", "explode")
        assert (odd["ok"], odd["error"]["type"]) == (False, "invalid_request")
    log = api.get("/events", params={"timer_id": timer["id"]}).json()["data"]
    assert [e["event"] for e in log] == ["timer.started", "timer.adjusted", "timer.paused"]
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "paused"


async def test_an_api_key_of_the_timers_account_also_authenticates(server, api, key):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    async with await presenter(server, timer["id"], {"api_key": key}) as socket:
        await receive(socket)
        assert (await command(socket, "1", "start"))["ok"]


@pytest.mark.parametrize(("auth", "code", "says"), [
    ({"token": "ctl_wrong"}, 4401, "invalid control token"),
    ({"token": 12}, 4401, "invalid control token"),
    ({"api_key": "ck_live_nope"}, 4401, "invalid control token or API key"),
    ({}, 4401, "invalid"),
])
async def test_wrong_credentials_are_refused(server, api, auth, code, says):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    async with await presenter(server, timer["id"], auth) as socket:
        assert (await closed_with(socket))[0] == code
    assert api.get(f"/timers/{timer['id']}").json()["version"] == 1


async def test_another_accounts_key_and_a_first_message_that_is_not_auth_are_refused(
        server, api, stranger_key):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    async with await presenter(server, timer["id"], {"api_key": stranger_key}) as socket:
        assert (await closed_with(socket))[0] == 4401
    async with await presenter(server, timer["id"], None) as socket:
        await socket.send(json.dumps({"type": "command", "command": "start"}))
        code, reason = await closed_with(socket)
        assert code == 4401 and "first message" in reason


async def test_a_foreign_origin_is_refused(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    async with await presenter(server, timer["id"], {"token": token_of(timer)},
                               origin="https://evil.example") as socket:
        code, reason = await closed_with(socket)
        assert code == 4403 and "Origin" in reason
    assert api.get(f"/timers/{timer['id']}").json()["version"] == 1


async def test_oversized_frames_and_floods_are_closed(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    async with await presenter(server, timer["id"], {"token": token_of(timer)}) as socket:
        await receive(socket)
        await socket.send(json.dumps({"type": "command", "req": "x" * 5000, "command": "start"}))
        assert (await closed_with(socket))[0] == 1009
    async with await presenter(server, timer["id"], {"token": token_of(timer)}) as socket:
        await receive(socket)
        for n in range(60):
            await socket.send(json.dumps({"type": "ping", "t": n}))
        code, reason = await closed_with(socket)
        assert code == 1008 and "too many messages" in reason
    assert api.get(f"/timers/{timer['id']}").json()["version"] == 1


async def test_rotating_the_control_token_disconnects_its_presenters(server, api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    old = token_of(timer)
    async with await presenter(server, timer["id"], {"token": old}) as socket, \
            await viewer(server, timer["id"]) as watcher:
        await receive(socket)
        await receive(watcher)
        rotated = api.post(f"/timers/{timer['id']}/control-token/rotate").json()
        assert token_of(rotated) != old
        code, reason = await closed_with(socket)
        assert code == 4401 and "rotated" in reason
        assert (await until(watcher, "state"))["v"] == 2  # viewers just see a new version
    async with await presenter(server, timer["id"], {"token": old}) as socket:
        assert (await closed_with(socket))[0] == 4401
    async with await presenter(server, timer["id"], {"token": token_of(rotated)}) as socket:
        await receive(socket)
        assert (await command(socket, "go", "start"))["ok"]
