"""Rundowns on a real server (DESIGN §11): a show's timers in order, advanced by hand or by
the completion of the current timer, exactly once."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import httpx
import pytest

from tests.servers import RedisServer, Server, client, make_key


def parse_ms(iso: str) -> int:
    return round(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def countdowns(api: httpx.Client, n: int, seconds: int = 1) -> list[str]:
    return [api.post("/timers", json={"type": "countdown", "duration": seconds,
                                      "title": f"Part {i + 1}"}).json()["id"]
            for i in range(n)]


def wait_for(api: httpx.Client, path: str, done, within: float) -> dict:
    deadline = time.monotonic() + within
    while True:
        found = api.get(path).json()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not get there in {within} s: {found}")
        time.sleep(0.05)


def log_of(api: httpx.Client, object_id: str | None = None) -> list[dict]:
    params = {"limit": 100, **({"timer_id": object_id} if object_id else {})}
    return api.get("/events", params=params).json()["data"]


def check_a_show_of_three_advances_by_itself(apis: list[httpx.Client]) -> None:
    """Three 1 s countdowns with auto_advance, started at the first: each completes once, in
    order, and each next one starts at the very millisecond the one before completed."""
    api = apis[0]
    ids = countdowns(api, 3)
    show = api.post("/rundowns", json={"title": "Show", "timers": ids,
                                       "auto_advance": True})
    assert show.status_code == 201, show.text
    rundown = show.json()
    assert rundown["current"] == ids[0] and rundown["next"] == ids[1]
    apis[-1].patch(f"/timers/{ids[0]}/state", json={"state": "running"})
    done = wait_for(api, f"/rundowns/{rundown['id']}", lambda r: r["completed_at"], 8)
    assert done["current"] == ids[2]
    timers = [api.get(f"/timers/{i}").json() for i in ids]
    assert [t["state"] for t in timers] == ["completed"] * 3
    for before, after in itertools.pairwise(timers):
        assert parse_ms(after["started_at"]) == parse_ms(before["completed_at"])
    assert [item["over_under"] for item in done["items"]] == [0, 0, 0]
    for timer_id in ids:
        assert [e["event"] for e in log_of(api, timer_id)].count("timer.completed") == 1
    shown = [e["event"] for e in log_of(api, rundown["id"])]
    assert shown == ["rundown.advanced", "rundown.advanced", "rundown.completed"]
    advanced = [e["data"] for e in log_of(api, rundown["id"])][:2]
    assert [(a["from"], a["to"]) for a in advanced] == [(ids[0], ids[1]), (ids[1], ids[2])]


def test_a_show_of_three_advances_by_itself(api):
    check_a_show_of_three_advances_by_itself([api])


def test_a_show_of_three_advances_by_itself_on_two_redis_processes(tmp_path):
    redis = RedisServer(tmp_path).start()
    servers = [Server(redis.url, tmp_path).start() for _ in range(2)]
    key = make_key(redis.url)
    try:
        with client(servers[0], key) as one, client(servers[1], key) as two:
            check_a_show_of_three_advances_by_itself([one, two])
    finally:
        for running in servers:
            running.stop()
        redis.stop()


def test_advance_goes_next_previous_and_to_a_timer_stopping_the_one_it_leaves(api):
    ids = countdowns(api, 3, seconds=600)
    rundown = api.post("/rundowns", json={"timers": ids}).json()
    path = f"/rundowns/{rundown['id']}/advance"
    first = api.post(path, json={"to": ids[0]}).json()  # the current one: it starts
    assert first["current"] == ids[0] and first["items"][0]["state"] == "running"
    second = api.post(path, json={"to": "next"}).json()
    assert second["current"] == ids[1]
    assert [item["state"] for item in second["items"]] == ["completed", "running", "idle"]
    assert [e["event"] for e in log_of(api, ids[0])] == ["timer.started", "timer.stopped"]
    third = api.post(path, json={"to": ids[2]}).json()
    assert [item["state"] for item in third["items"]] == ["completed", "completed", "running"]
    back = api.post(path, json={"to": "previous"}).json()
    assert back["current"] == ids[1]
    # A timer that ran before starts again from the top.
    assert back["items"][1]["state"] == "running"
    assert back["items"][1]["remaining_ms"] > 599_000
    assert [e["data"]["to"] for e in log_of(api, rundown["id"])] == [ids[1], ids[2], ids[1]]
    # A manual advance with no auto_advance never completes the show; stopping the last does.
    api.post(path, json={"to": ids[2]})
    api.patch(f"/timers/{ids[2]}/state", json={"state": "completed"})
    assert [e["event"] for e in log_of(api, rundown["id"])][-1] == "rundown.completed"


def test_a_stale_advance_is_a_conflict_and_changes_nothing(api):
    ids = countdowns(api, 2, seconds=600)
    rundown = api.post("/rundowns", json={"timers": ids}).json()
    path = f"/rundowns/{rundown['id']}/advance"
    api.patch(f"/rundowns/{rundown['id']}", json={"title": "Renamed"})
    stale = api.post(path, json={"to": "next", "expected_version": rundown["version"]})
    assert stale.status_code == 409
    assert stale.json()["error"]["current_version"] == rundown["version"] + 1
    assert "rundown" in stale.json()["error"]["message"]
    after = api.get(f"/rundowns/{rundown['id']}").json()
    assert after["current"] == ids[0] and after["version"] == rundown["version"] + 1
    assert [item["state"] for item in after["items"]] == ["idle", "idle"]
    fresh = api.post(path, json={"to": "next", "expected_version": after["version"]})
    assert fresh.status_code == 200 and fresh.json()["current"] == ids[1]


@pytest.mark.parametrize("body, param, words", [
    ({"to": "next"}, "to", "last timer"),
    ({"to": "previous"}, "to", "first timer"),
    ({"to": "tmr_notInThisShow"}, "to", "timer id of this rundown"),
    ({"to": 3}, "to", "string"),
    ({}, "to", "required"),
])
def test_an_advance_that_cannot_be_done_says_why(api, body, param, words):
    [only] = countdowns(api, 1, seconds=600)
    rundown = api.post("/rundowns", json={"timers": [only]}).json()
    answer = api.post(f"/rundowns/{rundown['id']}/advance", json=body)
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["param"] == param
    assert words in answer.json()["error"]["message"]
    assert api.get(f"/rundowns/{rundown['id']}").json()["version"] == rundown["version"]


def test_an_advance_racing_the_auto_advance_leaves_one_timer_running(api):
    """At the boundary, a presenter's "next" and the completion's auto-advance race: whichever
    commits first, the other is computed again from it, and one timer of the show runs."""
    for offset in (-0.02, 0.0, 0.01, 0.03):
        ids = countdowns(api, 4, seconds=1)
        rundown = api.post("/rundowns", json={"timers": ids, "auto_advance": True}).json()
        started = api.patch(f"/timers/{ids[0]}/state", json={"state": "running"}).json()
        boundary = parse_ms(started["started_at"]) / 1000 + 1
        time.sleep(max(0.0, boundary + offset - time.time()))
        answer = api.post(f"/rundowns/{rundown['id']}/advance", json={"to": "next"})
        assert answer.status_code == 200, answer.text
        show = api.get(f"/rundowns/{rundown['id']}").json()
        states = [item["state"] for item in show["items"]]
        assert states.count("running") == 1, states
        assert show["items"][ids.index(show["current"])]["state"] == "running"
        assert states[0] == "completed"
        assert [e["event"] for e in log_of(api, ids[0])].count("timer.completed") <= 1
        for timer_id in ids:
            api.delete(f"/timers/{timer_id}")


def test_a_deleted_timer_leaves_every_rundown_it_was_in(api):
    ids = countdowns(api, 3, seconds=600)
    one = api.post("/rundowns", json={"timers": ids}).json()
    two = api.post("/rundowns", json={"timers": [ids[2], ids[0]]}).json()
    assert api.delete(f"/timers/{ids[0]}").status_code == 204
    after_one = api.get(f"/rundowns/{one['id']}").json()
    after_two = api.get(f"/rundowns/{two['id']}").json()
    # The show is on the timer that followed the deleted one, not back at the top.
    assert after_one["timers"] == ids[1:] and after_one["current"] == ids[1]
    assert after_two["timers"] == [ids[2]] and after_two["current"] == ids[2]
    # Deleting a rundown leaves its timers.
    assert api.delete(f"/rundowns/{two['id']}").status_code == 204
    assert api.get(f"/rundowns/{two['id']}").status_code == 404
    assert api.get(f"/timers/{ids[2]}").status_code == 200


def test_rundowns_are_edited_listed_and_kept_to_their_account(api, server, stranger_key):
    ids = countdowns(api, 3, seconds=60)
    made = [api.post("/rundowns", json={"title": f"Show {n}", "timers": ids}).json()
            for n in range(3)]
    edited = api.patch(f"/rundowns/{made[0]['id']}",
                       json={"timers": [ids[2], ids[1]], "auto_advance": True}).json()
    assert edited["timers"] == [ids[2], ids[1]] and edited["auto_advance"] is True
    # Its current timer was taken out of the show: it is on the one that followed it.
    assert edited["current"] == ids[1]
    last = api.patch(f"/rundowns/{made[1]['id']}", json={"timers": [ids[0]]}).json()
    assert last["current"] == ids[0]
    gone = api.patch(f"/rundowns/{made[2]['id']}", json={"timers": [ids[1], ids[2]]})
    assert gone.json()["current"] == ids[1]
    first = api.get("/rundowns", params={"limit": 2}).json()
    rest = api.get("/rundowns", params={"cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["data"] + rest["data"]] == [r["id"] for r in made]
    assert first["has_more"] is True and rest["has_more"] is False
    assert all(r["id"].startswith("tmr_") for r in api.get("/timers").json()["data"])
    with client(server, stranger_key) as stranger:
        assert stranger.get(f"/rundowns/{made[0]['id']}").status_code == 404
        assert stranger.post(f"/rundowns/{made[0]['id']}/advance",
                             json={"to": "next"}).status_code == 404
        theirs = stranger.post("/rundowns", json={"timers": ids})
        assert theirs.status_code == 422 and theirs.json()["error"]["param"] == "timers"
        assert stranger.get("/rundowns").json()["data"] == []


@pytest.mark.parametrize("body, words", [
    ({"title": "No timers"}, "timers is required"),
    ({"timers": []}, "1 to 200"),
    ({"timers": ["tmr_a", "tmr_a"]}, "distinct"),
    ({"timers": ["nope"]}, "timer ids like tmr_"),
    ({"timers": [f"tmr_{n}" for n in range(201)]}, "at most 200"),
    ({"timers": "tmr_a"}, "array of strings"),
    ({"timers": ["tmr_a"], "auto_advance": "yes"}, "true or false"),
    ({"timers": ["tmr_a"], "webhook_url": "http://127.0.0.1/hook"}, "webhook_url"),
    ({"timers": ["tmr_a"], "colour": "red"}, "colour"),
])
def test_a_bad_rundown_is_refused_with_the_field_named(api, body, words):
    answer = api.post("/rundowns", json=body)
    assert answer.status_code in (400, 422), answer.text
    error = answer.json()["error"]
    assert words in error["message"] or words == error["param"], error
    assert api.get("/rundowns").json()["data"] == []


def test_the_rundown_control_token_rotates(api):
    [one] = countdowns(api, 1)
    rundown = api.post("/rundowns", json={"timers": [one]}).json()
    rotated = api.post(f"/rundowns/{rundown['id']}/control-token/rotate").json()
    assert rotated["urls"]["control"] != rundown["urls"]["control"]
    assert rotated["urls"]["control"].split("#token=")[1].startswith("ctl_")


def test_a_show_of_sixty_runs_without_drift_on_two_processes(tmp_path):
    """Sixty 1 s countdowns on two Redis processes: every start is anchored at the completion
    before it, so the last starts exactly 59 s after the first, however late each commit."""
    redis = RedisServer(tmp_path).start()
    servers = [Server(redis.url, tmp_path).start() for _ in range(2)]
    key = make_key(redis.url, plan="unlimited")  # a minute of polling is over any plan's budget
    try:
        with client(servers[0], key) as api, client(servers[1], key) as other:
            ids = countdowns(api, 60)
            rundown = api.post("/rundowns", json={"timers": ids, "auto_advance": True}).json()
            stop = threading.Event()

            def watch() -> None:  # the second process answers reads all along
                while not stop.is_set():
                    other.get(f"/rundowns/{rundown['id']}")
                    time.sleep(0.2)

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                other.patch(f"/timers/{ids[0]}/state", json={"state": "running"})
                wait_for(api, f"/rundowns/{rundown['id']}", lambda r: r["completed_at"], 90)
            finally:
                stop.set()
                watcher.join()
            first, last = (api.get(f"/timers/{i}").json() for i in (ids[0], ids[-1]))
            assert parse_ms(last["started_at"]) == parse_ms(first["started_at"]) + 59_000
            assert parse_ms(last["completed_at"]) == parse_ms(first["started_at"]) + 60_000
            events = [e["event"] for e in log_of(api, rundown["id"])]
            assert events == ["rundown.advanced"] * 59 + ["rundown.completed"]
    finally:
        for running in servers:
            running.stop()
        redis.stop()


def test_a_rundowns_control_token_advances_and_reads_its_rundown_only(api, server):
    ids = countdowns(api, 2, seconds=600)
    rundown = api.post("/rundowns", json={"timers": ids,
                                          "webhook_url": "https://example.com/show"}).json()
    other = api.post("/rundowns", json={"timers": ids}).json()
    token = rundown["urls"]["control"].split("#token=")[1]
    with httpx.Client(base_url=f"{server.base}/api/v1",
                      headers={"Authorization": f"Bearer {token}"}) as hardware:
        moved = hardware.post(f"/rundowns/{rundown['id']}/advance", json={"to": "next"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["current"] == ids[1] and "webhook_url" not in moved.json()
        assert "RateLimit" in moved.headers  # counted on the owner's plan
        read = hardware.get(f"/rundowns/{rundown['id']}").json()
        assert read["items"][1]["state"] == "running"
        # No timer's own token comes with the show: its presenter runs the timers with the
        # rundown's token, on their presenter sockets (tests/ws/test_rundowns.py).
        timer_tokens = [api.get(f"/timers/{i}").json()["urls"]["control"].split("#token=")[1]
                        for i in ids]
        assert not any(t in hardware.get(f"/rundowns/{rundown['id']}").text
                       for t in timer_tokens)
        for method, path, body in [
                ("GET", f"/rundowns/{other['id']}", None),
                ("POST", f"/rundowns/{other['id']}/advance", {"to": "next"}),
                ("PATCH", f"/rundowns/{rundown['id']}", {"title": "Taken over"}),
                ("DELETE", f"/rundowns/{rundown['id']}", None),
                ("POST", f"/rundowns/{rundown['id']}/control-token/rotate", None),
                ("GET", "/rundowns", None),
                ("GET", f"/timers/{ids[0]}", None),
                ("PATCH", f"/timers/{ids[0]}/state", {"state": "running"}),
                ("GET", "/account", None), ("GET", "/events", None)]:
            answer = hardware.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
        assert api.get(f"/rundowns/{rundown['id']}").json()["title"] == ""
        assert api.get(f"/rundowns/{other['id']}").json()["current"] == ids[0]
        api.post(f"/rundowns/{rundown['id']}/control-token/rotate")
        refused = hardware.post(f"/rundowns/{rundown['id']}/advance", json={"to": ids[0]})
        assert refused.status_code == 404
        assert "rotation" in refused.json()["error"]["message"]
    assert api.get(f"/rundowns/{rundown['id']}").json()["current"] == ids[1]


def test_a_timer_next_in_two_shows_starts_once_for_both(api):
    """Two auto-advancing rundowns on the same timers: the first's completion moves both shows
    on, and their common next timer starts once (a second start of it in the same commit would
    have failed the whole completion, and held up the scheduler)."""
    ids = countdowns(api, 2)
    shows = [api.post("/rundowns", json={"timers": ids, "auto_advance": True}).json()
             for _ in range(2)]
    later = api.post("/timers", json={"type": "countdown", "duration": 1}).json()
    api.patch(f"/timers/{ids[0]}/state", json={"state": "running"})
    api.patch(f"/timers/{later['id']}/state", json={"state": "running"})
    for show in shows:
        wait_for(api, f"/rundowns/{show['id']}", lambda r: r["completed_at"], 6)
    assert [e["event"] for e in log_of(api, ids[1])] == ["timer.started", "timer.completed"]
    for show in shows:
        assert [e["event"] for e in log_of(api, show["id"])] == ["rundown.advanced",
                                                                  "rundown.completed"]
    assert api.get(f"/timers/{later['id']}").json()["state"] == "completed"


def test_an_advance_from_a_timer_the_show_has_left_is_refused(api):
    """A button that means "on from this timer" sends `from`: landing just after an
    auto-advance (or another presenter's move) it is 409 and the show stays where it is."""
    ids = countdowns(api, 3, seconds=600)
    rundown = api.post("/rundowns", json={"timers": ids}).json()
    path = f"/rundowns/{rundown['id']}/advance"
    assert api.post(path, json={"to": "next", "from": ids[0]}).json()["current"] == ids[1]
    late = api.post(path, json={"to": "next", "from": ids[0]})
    assert late.status_code == 409
    error = late.json()["error"]
    assert (error["type"], error["param"], error["current"]) == ("show_moved_on", "from",
                                                                 ids[1])
    assert api.get(f"/rundowns/{rundown['id']}").json()["current"] == ids[1]
