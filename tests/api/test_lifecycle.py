"""Timers run by themselves on a real server: completions, rounds, edits, adjustments."""

from __future__ import annotations

import datetime as dt
import time

import httpx


def wait_for_state(api: httpx.Client, timer_id: str, state: str, within: float) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        timer = api.get(f"/timers/{timer_id}").json()
        if timer["state"] == state:
            return timer
        time.sleep(0.05)
    raise AssertionError(f"{timer_id} did not reach {state}: {timer}")


def events_of(api: httpx.Client, timer_id: str) -> list[dict]:
    return api.get("/events", params={"timer_id": timer_id}).json()["data"]


def parse(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def test_a_two_second_countdown_completes_by_itself(api):
    timer = api.post("/timers", json={"title": "Tea", "type": "countdown",
                                      "duration": 2}).json()
    started = api.patch(f"/timers/{timer['id']}/state", json={"state": "running"}).json()
    done = wait_for_state(api, timer["id"], "completed", within=5)
    assert done["remaining_ms"] == 0 and done["elapsed_ms"] == 2000
    log = events_of(api, timer["id"])
    assert [e["event"] for e in log] == ["timer.started", "timer.completed"]
    began, ended = (parse(e["timestamp"]) for e in log)
    assert abs(ended - began - 2.0) < 0.01  # stamped with the deadline, not with the commit
    assert parse(started["started_at"]) == began
    completed = log[1]
    assert completed["data"]["actual_duration"] == 2
    assert 0 <= completed["data"]["late_ms"] < 400  # poll is 0.2 s; the wake-up is sooner
    assert completed["version"] == 3


def test_an_interval_of_three_rounds_logs_each_round_then_both_completions(api):
    timer = api.post("/timers", json={"type": "interval", "work": 1, "rest": 0,
                                      "rounds": 3}).json()
    api.patch(f"/timers/{timer['id']}/state", json={"action": "start"})
    wait_for_state(api, timer["id"], "completed", within=6)
    log = events_of(api, timer["id"])
    assert [(e["event"], e["data"].get("round")) for e in log] == [
        ("timer.started", 1), ("interval.round_end", 1), ("interval.round_end", 2),
        ("interval.round_end", 3), ("interval.completed", 3), ("timer.completed", 3)]
    assert [e["version"] for e in log] == sorted(e["version"] for e in log)


def test_pause_keeps_remaining_time_and_adjust_moves_the_deadline(api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
    time.sleep(0.3)
    paused = api.patch(f"/timers/{timer['id']}/state", json={"state": "paused"}).json()
    time.sleep(0.3)
    still = api.get(f"/timers/{timer['id']}").json()
    assert still["remaining_ms"] == paused["remaining_ms"] < 60_000
    more = api.post(f"/timers/{timer['id']}/adjust", json={"seconds": 30}).json()
    assert more["remaining_ms"] == paused["remaining_ms"] + 30_000
    assert more["adjustment"] == 30
    less = api.post(f"/timers/{timer['id']}/adjust", json={"seconds": -9999}).json()
    assert less["remaining_ms"] == 0  # never below zero
    resumed = api.patch(f"/timers/{timer['id']}/state", json={"state": "running"}).json()
    assert resumed["state"] in ("running", "completed")
    wait_for_state(api, timer["id"], "completed", within=3)
    assert [e["event"] for e in events_of(api, timer["id"])][-1] == "timer.completed"


def test_edit_title_webhook_and_duration_while_idle_only(api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    edited = api.patch(f"/timers/{timer['id']}", json={
        "title": "Keynote", "duration": 90, "webhook_url": "https://example.com/h",
        "webhook_events": ["timer.completed"]}).json()
    assert (edited["title"], edited["duration"], edited["webhook_events"]) == (
        "Keynote", 90, ["timer.completed"])
    api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
    refused = api.patch(f"/timers/{timer['id']}", json={"duration": 10})
    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "duration"
    assert api.get(f"/timers/{timer['id']}").json()["duration"] == 90


def test_lists_page_with_cursors(api):
    made = [api.post("/timers", json={"type": "countdown", "duration": 5 + n}).json()["id"]
            for n in range(5)]
    seen, params = [], {"limit": 2}
    while True:
        page = api.get("/timers", params=params).json()
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert seen == made


def test_account_shows_plan_limits_and_usage(api):
    account = api.get("/account").json()
    assert account["plan"] == "enterprise"
    assert account["limits"] == {"requests_per_minute": 600, "requests_per_day": None}
    assert account["usage"]["requests_today"] == 1
    assert api.get("/account").json()["usage"]["requests_today"] == 2


def iso_in(seconds: float) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds")


def test_a_scheduled_start_fires_once_by_itself(api):
    start_at = iso_in(2)
    timer = api.post("/timers", json={"type": "countdown", "duration": 30,
                                      "start_at": start_at}).json()
    assert timer["start_at"] == start_at and timer["state"] == "idle"
    running = wait_for_state(api, timer["id"], "running", within=6)
    assert abs(parse(running["started_at"]) - parse(start_at)) < 0.001  # anchored there
    assert running["start_at"] is None
    time.sleep(0.3)  # a second firing, if there were one, would be committed by now
    [started] = events_of(api, timer["id"])
    assert started["event"] == "timer.started" and started["data"]["scheduled"] is True
    assert 0 <= started["data"]["late_ms"] < 1000


def test_a_countdown_has_a_timezone_to_show_its_scheduled_start_in(api):
    timer = api.post("/timers", json={"type": "countdown", "duration": 60,
                                      "start_at": iso_in(3600), "timezone": "Asia/Tokyo"})
    assert timer.status_code == 201, timer.text
    assert timer.json()["timezone"] == "Asia/Tokyo"
    moved = api.patch(f"/timers/{timer.json()['id']}", json={"timezone": "Europe/Paris"})
    assert moved.json()["timezone"] == "Europe/Paris"
    plain = api.post("/timers", json={"type": "interval"}).json()
    assert plain["timezone"] is None  # shown with start_at's own offset
    event = api.post("/timers", json={"type": "event", "target_date": iso_in(60)}).json()
    assert event["timezone"] == "UTC"
    bad = api.post("/timers", json={"type": "countdown", "duration": 5, "timezone": "Mars/X"})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "timezone"
