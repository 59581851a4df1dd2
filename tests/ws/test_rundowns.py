"""`/ws/rundowns/{id}`: a rundown's viewers hear each advance as it is committed, on every
process, and learn when the rundown is gone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.servers import RedisServer, Server, client, make_key
from tests.ws.helpers import presenter, receive, ws_url
from tests.ws.test_control import closed_with, command, token_of

pytestmark = pytest.mark.anyio


async def follower(server: Server, rundown_id: str):
    return await connect(ws_url(server, f"/ws/rundowns/{rundown_id}"), compression=None)


async def check_followers_hear_advances(servers: list[Server], key: str) -> None:
    with client(servers[0], key) as api:
        ids = [api.post("/timers", json={"type": "countdown", "duration": 600}).json()["id"]
               for _ in range(2)]
        rundown = api.post("/rundowns", json={"title": "Show", "timers": ids}).json()
        sockets = [await follower(s, rundown["id"]) for s in servers]
        for socket in sockets:
            first = await receive(socket)
            assert first["type"] == "rundown"
            assert first["rundown"]["current"] == ids[0]
            assert first["rundown"]["next"] == ids[1]
            assert "control_token" not in str(first) and "urls" not in first["rundown"]
        api.post(f"/rundowns/{rundown['id']}/advance", json={"to": "next"})
        for socket in sockets:
            moved = await receive(socket)
            assert moved["rundown"]["current"] == ids[1] and moved["rundown"]["next"] is None
            assert moved["events"] == ["rundown.advanced"]
        api.delete(f"/rundowns/{rundown['id']}")
        for socket in sockets:
            assert (await receive(socket))["type"] == "deleted"
            with pytest.raises(ConnectionClosed) as closed:
                await receive(socket)
            assert closed.value.rcvd.code == 4410


async def test_followers_hear_each_advance(server, key):
    await check_followers_hear_advances([server], key)


@pytest.fixture(params=["redis", "redis-cluster"])
def two_servers(request: pytest.FixtureRequest,
                tmp_path) -> Iterator[tuple[list[Server], str]]:
    if request.param == "redis-cluster":
        redis = request.getfixturevalue("redis_cluster")
        redis.flush()
    else:
        redis = RedisServer(tmp_path).start()
    servers = [Server(redis.url, tmp_path).start() for _ in range(2)]
    yield servers, make_key(redis.url)
    for running in servers:
        running.stop()
    if request.param == "redis":
        redis.stop()


async def test_followers_on_two_processes_hear_each_advance(two_servers):
    await check_followers_hear_advances(*two_servers)


async def test_no_such_rundown_closes_with_4404(server):
    socket = await follower(server, "rnd_doesNotExist")
    with pytest.raises(ConnectionClosed) as closed:
        await receive(socket)
    assert closed.value.rcvd.code == 4404


async def test_a_shows_token_runs_its_timers_until_rotated_or_the_timer_leaves(server, api):
    """The show's presenter runs each timer of the show with the rundown's own token; a timer
    not in the show refuses it, and a rotation or the timer leaving the show ends it at the
    next command."""
    ids = [api.post("/timers", json={"type": "countdown", "duration": 600}).json()["id"]
           for _ in range(3)]
    show = api.post("/rundowns", json={"timers": ids[:2]}).json()
    token = token_of(show)
    async with await presenter(server, ids[0], {"token": token, "rundown": show["id"]},
                               origin=server.base) as socket:
        assert (await receive(socket))["type"] == "snapshot"
        assert (await command(socket, "1", "start"))["ok"]
        assert (await command(socket, "2", "message", text="Wrap up"))["ok"]
        api.post(f"/rundowns/{show['id']}/control-token/rotate")
        await socket.send(json.dumps({"type": "command", "req": "3", "command": "pause"}))
        assert (await closed_with(socket))[0] == 4401
    assert api.get(f"/timers/{ids[0]}").json()["state"] == "running"
    fresh = token_of(api.get(f"/rundowns/{show['id']}").json())
    async with await presenter(server, ids[2], {"token": fresh, "rundown": show["id"]},
                               origin=server.base) as outsider:
        assert (await closed_with(outsider))[0] == 4401  # not in the show
    async with await presenter(server, ids[1], {"token": fresh, "rundown": show["id"]},
                               origin=server.base) as socket:
        await receive(socket)
        api.patch(f"/rundowns/{show['id']}", json={"timers": [ids[0]]})
        await socket.send(json.dumps({"type": "command", "req": "4", "command": "start"}))
        assert (await closed_with(socket))[0] == 4401
    assert api.get(f"/timers/{ids[1]}").json()["state"] == "idle"
