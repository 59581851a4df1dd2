"""The live room end to end on both engines: overtime and wrap-up warnings go through the
commit path once, into the event log and to the receiver, like every other event."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.servers import Server, client, make_key


@pytest.fixture
def api(hook_server: Server) -> Iterator[httpx.Client]:
    with client(hook_server, make_key(hook_server.engine_url, plan="enterprise")) as http:
        yield http


def create(api: httpx.Client, **fields: object) -> dict:
    answer = api.post("/timers", json=fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def act(api: httpx.Client, timer_id: str, action: str) -> dict:
    answer = api.patch(f"/timers/{timer_id}/state", json={"action": action})
    assert answer.status_code == 200, answer.text
    return answer.json()


def ms(stamp: str) -> int:
    return round(dt.datetime.fromisoformat(stamp).timestamp() * 1000)


def log(api: httpx.Client, timer_id: str) -> list[dict]:
    return api.get("/events", params={"timer_id": timer_id}).json()["data"]


def test_overtime_completes_once_then_counts_below_zero_until_stopped(api, receiver):
    timer = create(api, type="countdown", duration=2, overtime=True,
                   webhook_url=receiver.url("/overtime"))
    assert timer["overtime"] is True and timer["level"] == "normal"
    act(api, timer["id"], "start")
    receiver.wait("/overtime", 2)  # started, then completed: committed by then
    first = api.get(f"/timers/{timer['id']}").json()
    assert (first["state"], first["level"]) == ("overtime", "overtime")
    assert first["remaining_ms"] < 0 and first["overtime_ms"] == -first["remaining_ms"]
    assert first["completed_at"] is not None
    time.sleep(0.05)  # time must pass for the count to move on
    later = api.get(f"/timers/{timer['id']}").json()
    assert later["remaining_ms"] < first["remaining_ms"]
    stopped = act(api, timer["id"], "stop")
    assert stopped["state"] == "completed" and stopped["overtime_ms"] >= -later["remaining_ms"]
    assert act(api, timer["id"], "reset")["state"] == "idle"
    names = ["timer.started", "timer.completed", "timer.stopped", "timer.reset"]
    bodies = [orjson.loads(r.body) for r in receiver.wait("/overtime", 4)]
    assert [b["event"] for b in bodies] == names
    assert [e["event"] for e in log(api, timer["id"])] == names
    assert bodies[2]["data"]["overtime"] >= 0
    assert len(receiver.at("/overtime")) == 4  # no second completion came after


def test_warnings_fire_once_each_in_order_at_their_instants(api, receiver):
    timer = create(api, type="countdown", duration=5, warn_at=3, danger_at=1,
                   webhook_url=receiver.url("/warnings"),
                   webhook_events=["timer.warning", "timer.completed"])
    started = ms(act(api, timer["id"], "start")["started_at"])
    bodies = [orjson.loads(r.body) for r in receiver.wait("/warnings", 3)]
    assert [(b["event"], b["data"].get("level")) for b in bodies] == [
        ("timer.warning", "warning"), ("timer.warning", "danger"), ("timer.completed", None)]
    events = [e for e in log(api, timer["id"]) if e["event"] != "timer.started"]
    assert [e["id"] for e in events] == [b["id"] for b in bodies]
    for event, offset in zip(events, (2000, 4000, 5000), strict=True):
        assert ms(event["timestamp"]) == started + offset
        assert 0 <= event["data"]["late_ms"] <= 50, event
    # A reset re-arms both.
    act(api, timer["id"], "reset")
    act(api, timer["id"], "start")
    again = [orjson.loads(r.body) for r in receiver.wait("/warnings", 6)][3:]
    assert [b["data"].get("level") for b in again] == ["warning", "danger", None]


def test_an_adjust_above_a_threshold_re_arms_it(api, receiver):
    # Five seconds between the warning and the danger: room for the adjust in between.
    timer = create(api, type="countdown", duration=8, warn_at=6, danger_at=1,
                   webhook_url=receiver.url("/re-arm"),
                   webhook_events=["timer.warning", "timer.completed"])
    act(api, timer["id"], "start")
    receiver.wait("/re-arm", 1)
    answer = api.post(f"/timers/{timer['id']}/adjust", json={"seconds": 2})
    assert answer.status_code == 200 and answer.json()["level"] == "normal"
    bodies = [orjson.loads(r.body) for r in receiver.wait("/re-arm", 4, timeout=20)]
    assert [b["data"].get("level") for b in bodies] == ["warning", "warning", "danger", None]


def test_messages_are_committed_events_and_validated(api, receiver):
    timer = create(api, type="countdown", duration=60, webhook_url=receiver.url("/message"),
                   webhook_events=["timer.message"])
    answer = api.put(f"/timers/{timer['id']}/message",
                     json={"text": "<script>alert(1)</script> wrap up", "flash": True})
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["message"]["text"] == "<script>alert(1)</script> wrap up"
    assert shown["message"]["flash"] is True and shown["version"] == 2
    assert api.delete(f"/timers/{timer['id']}/message").json()["message"] is None
    unchanged = api.delete(f"/timers/{timer['id']}/message").json()
    assert unchanged["version"] == 3  # nothing to take down: no change
    bodies = [orjson.loads(r.body) for r in receiver.wait("/message", 2)]
    assert [b["data"]["message"] and b["data"]["message"]["text"] for b in bodies] == [
        "<script>alert(1)</script> wrap up", None]
    for body, param in [({"text": ""}, "text"), ({"text": "x" * 281}, "text"),
                        ({"flash": True}, "text"), ({"text": "hi", "flash": "yes"}, "flash")]:
        refused = api.put(f"/timers/{timer['id']}/message", json=body)
        assert refused.status_code in (400, 422) and refused.json()["error"]["param"] == param
    blackout = api.patch(f"/timers/{timer['id']}", json={"blackout": True}).json()
    assert blackout["blackout"] is True
    for body, param in [({"overtime": "yes"}, "overtime"), ({"warn_at": 60}, "warn_at"),
                        ({"warn_at": 10, "danger_at": 20}, "danger_at")]:
        refused = api.patch(f"/timers/{timer['id']}", json=body)
        assert refused.status_code in (400, 422) and refused.json()["error"]["param"] == param
    assert api.get(f"/timers/{timer['id']}").json()["version"] == blackout["version"]
