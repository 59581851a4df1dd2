"""A rundown's own webhook: its advances and its completion are delivered signed, once each,
in order, like a timer's events."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.servers import Server, client, make_key
from tests.webhooks.test_delivery import check_signatures


@pytest.fixture
def api(hook_server: Server) -> Iterator[httpx.Client]:
    with client(hook_server, make_key(hook_server.engine_url)) as http:
        yield http


def test_a_rundowns_webhook_gets_its_advances_and_completion_signed(api, receiver):
    ids = [api.post("/timers", json={"type": "countdown", "duration": 1}).json()["id"]
           for _ in range(3)]
    rundown = api.post("/rundowns", json={"title": "Show", "timers": ids, "auto_advance": True,
                                          "webhook_url": receiver.url("/show")}).json()
    assert rundown["webhook_url"] == receiver.url("/show")
    api.patch(f"/timers/{ids[0]}/state", json={"state": "running"})
    secret = api.get("/account").json()["webhook_secret"]
    got = receiver.wait("/show", 3)
    bodies = [check_signatures(request, secret) for request in got]
    assert [b["event"] for b in bodies] == ["rundown.advanced", "rundown.advanced",
                                            "rundown.completed"]
    assert all(b["rundown_id"] == rundown["id"] and b["title"] == "Show" for b in bodies)
    assert [(b["data"]["from"], b["data"]["to"]) for b in bodies[:2]] == [
        (ids[0], ids[1]), (ids[1], ids[2])]
    assert bodies[2]["data"]["last"] == ids[2]
    logged = api.get("/events", params={"timer_id": rundown["id"]}).json()["data"]
    assert [e["id"] for e in logged] == [b["id"] for b in bodies]
    assert len(receiver.at("/show")) == 3  # once each
    assert orjson.loads(got[0].body)["timestamp"] == logged[0]["timestamp"]
    listed = api.get(f"/rundowns/{rundown['id']}/deliveries").json()["data"]
    deadline = time.monotonic() + 5
    while any(d["status"] != "succeeded" for d in listed):  # the outcome is recorded after
        assert time.monotonic() < deadline, listed  # the receiver has answered
        time.sleep(0.05)
        listed = api.get(f"/rundowns/{rundown['id']}/deliveries").json()["data"]
    assert [d["event"] for d in listed] == ["rundown.completed", "rundown.advanced",
                                            "rundown.advanced"]  # newest first
    assert all(d["rundown_id"] == rundown["id"] for d in listed)
    assert api.get("/rundowns/rnd_none/deliveries").status_code == 404
