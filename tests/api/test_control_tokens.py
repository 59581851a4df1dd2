"""A timer's control token over REST, for hardware controllers: it drives and reads its own
timer through the few endpoints a presenter needs, as the owner's request counted against the
owner's plan, and reaches nothing else — every other endpoint, and those on any other timer,
answer 404 as for what does not exist; a rotated token, the same."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_errors import error_of
from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key

COUNTDOWN = {"type": "countdown", "duration": 600}


def token_of(timer: dict) -> str:
    return timer["urls"]["control"].split("#token=", 1)[1]


def controller(server: Server, token: str) -> httpx.Client:
    """What a button box is: no API key, only the timer's control token."""
    return client(server, token)


@pytest.fixture
def timer(api) -> dict:
    return api.post("/timers", json={**COUNTDOWN, "title": "Keynote",
                                     "webhook_url": "https://example.com/hooks/castimer"}).json()


def test_a_control_token_drives_and_reads_its_own_timer(server, api, timer):
    path = f"/timers/{timer['id']}"
    with controller(server, token_of(timer)) as box:
        started = box.patch(f"{path}/state", json={"state": "running"})
        assert started.status_code == 200, started.text
        assert started.json()["state"] == "running"
        assert "RateLimit" in started.headers and "X-RateLimit-Remaining" in started.headers
        assert started.headers["Cache-Control"] == "no-store"
        paused = box.patch(f"{path}/state", json={"action": "pause"}).json()
        assert paused["state"] == "paused"
        adjusted = box.post(f"{path}/adjust", json={"seconds": 60}).json()
        assert adjusted["adjustment"] == 60
        assert adjusted["remaining_ms"] == paused["remaining_ms"] + 60_000
        shown = box.put(f"{path}/message", json={"text": "Wrap up", "flash": True}).json()
        assert (shown["message"]["text"], shown["message"]["flash"]) == ("Wrap up", True)
        assert box.delete(f"{path}/message").json()["message"] is None
        resumed = box.patch(f"{path}/state", json={"action": "resume",
                                                   "expected_version": 6}).json()
        assert (resumed["state"], resumed["version"]) == ("running", 7)
        read = box.get(path)
        assert read.status_code == 200, read.text
        seen = read.json()
    # The presenter's view of the timer: live fields, viewers and URLs, not the account's
    # webhook settings.
    assert (seen["id"], seen["state"], seen["version"]) == (timer["id"], "running", 7)
    assert seen["urls"] == timer["urls"] and seen["viewers"] == 0
    assert "webhook_url" not in seen and "webhook_events" not in seen
    owned = api.get(path).json()
    assert owned["webhook_url"] == "https://example.com/hooks/castimer"
    assert {k: v for k, v in owned.items() if k not in ("webhook_url", "webhook_events")
            } == {**seen, "remaining_ms": owned["remaining_ms"],
                  "elapsed_ms": owned["elapsed_ms"], "server_time": owned["server_time"]}
    log = api.get("/events", params={"timer_id": timer["id"]}).json()["data"]
    assert [e["event"] for e in log] == ["timer.started", "timer.paused", "timer.adjusted",
                                         "timer.message", "timer.message", "timer.resumed"]


def test_a_control_token_reaches_no_other_timer(server, api, timer, stranger_key):
    sibling = api.post("/timers", json=COUNTDOWN).json()  # same account
    with client(server, stranger_key) as stranger:
        foreign = stranger.post("/timers", json=COUNTDOWN).json()
        said = {}
        with controller(server, token_of(timer)) as box:
            for other in (sibling["id"], foreign["id"], "tmr_doesnotexist"):
                path = f"/timers/{other}"
                for answer in (box.get(path),
                               box.patch(f"{path}/state", json={"state": "running"}),
                               box.post(f"{path}/adjust", json={"seconds": 60}),
                               box.put(f"{path}/message", json={"text": "Hi"}),
                               box.delete(f"{path}/message")):
                    error = error_of(answer, 404, "not_found", "id",
                                     f"no timer '{other}' for this control token")
                    assert "RateLimit" not in answer.headers  # nobody's budget was touched
                    said[other] = error["message"].replace(other, "tmr_…")
        # Whether a timer exists, or whose it is, is not told: the answers are alike.
        assert len(set(said.values())) == 1, said
        for stored, owner in ((sibling, api), (foreign, stranger)):
            unchanged = owner.get(f"/timers/{stored['id']}").json()
            assert (unchanged["state"], unchanged["version"], unchanged["message"]) == (
                "idle", 1, None)


def _path_of(path: str, timer_id: str) -> str:
    return (path.removeprefix("/api/v1").replace("{timer_id}", timer_id)
            .replace("{delivery_id}", "dlv_x").replace("{key_id}", "key_x")
            .replace("{rundown_id}", "rnd_x"))


def test_a_control_token_gets_404_on_every_endpoint_that_does_not_declare_it(
        server, api, timer):
    """Driven by the served OpenAPI document: an operation that does not list the control
    token's security scheme answers it 404 — on the token's own timer too — and changes
    nothing."""
    document = api.get("/openapi.json").json()
    assert "controlToken" in document["components"]["securitySchemes"]
    taking, refusing = set(), set()
    with controller(server, token_of(timer)) as box:
        for path, item in document["paths"].items():
            for method, op in item.items():
                if method == "parameters" or op.get("security") == []:
                    continue  # open to anyone: /healthz, /readyz, this document
                if {"controlToken": []} in op.get("security", document["security"]):
                    taking.add((method, path))
                    continue
                answer = box.request(method.upper(), _path_of(path, timer["id"]), json={})
                error = error_of(answer, 404, "not_found", None,
                                 "does not take a control token: a control token (ctl_…) "
                                 "reaches only GET /timers/{id}, PATCH /timers/{id}/state")
                assert "RateLimit" not in answer.headers
                assert token_of(timer) not in error["message"]
                refusing.add((method, path))
    assert taking == {("get", "/api/v1/timers/{timer_id}"),
                      ("patch", "/api/v1/timers/{timer_id}/state"),
                      ("post", "/api/v1/timers/{timer_id}/adjust"),
                      ("put", "/api/v1/timers/{timer_id}/message"),
                      ("delete", "/api/v1/timers/{timer_id}/message"),
                      # A rundown's token, for its rundown (tests/api/test_rundowns.py).
                      ("get", "/api/v1/rundowns/{rundown_id}"),
                      ("post", "/api/v1/rundowns/{rundown_id}/advance")}
    assert {("get", "/api/v1/timers"), ("get", "/api/v1/events"), ("get", "/api/v1/account"),
            ("get", "/api/v1/keys"), ("post", "/api/v1/keys"),
            ("get", "/api/v1/timers/{timer_id}/deliveries"),
            ("get", "/api/v1/deliveries/{delivery_id}"),
            ("patch", "/api/v1/timers/{timer_id}"), ("delete", "/api/v1/timers/{timer_id}"),
            ("post", "/api/v1/timers/{timer_id}/control-token/rotate"),
            ("get", "/api/v1/rundowns"), ("patch", "/api/v1/rundowns/{rundown_id}")} <= refusing
    after = api.get(f"/timers/{timer['id']}").json()
    assert (after["version"], after["urls"]) == (timer["version"], timer["urls"])
    assert [k["current"] for k in api.get("/keys").json()["data"]] == [True]  # none made


def test_a_rotated_control_token_is_refused_and_the_new_one_works(server, api, timer):
    old = token_of(timer)
    rotated = api.post(f"/timers/{timer['id']}/control-token/rotate").json()
    new = token_of(rotated)
    assert new != old
    path = f"/timers/{timer['id']}"
    with controller(server, old) as stale:
        for answer in (stale.get(path), stale.patch(f"{path}/state", json={"state": "running"})):
            error_of(answer, 404, "not_found", "id", "after a rotation only the new one works")
    with controller(server, new) as box:
        assert box.patch(f"{path}/state", json={"state": "running"}).json()["state"] == "running"
    assert api.get(path).json()["version"] == rotated["version"] + 1


def test_control_token_requests_count_against_the_owners_plan(server):
    owner_key = make_key(server.engine_url, plan="free")  # 30 a minute
    with client(server, owner_key) as owner:
        timer = owner.post("/timers", json=COUNTDOWN).json()
        before = owner.get("/account").json()["usage"]["requests_today"]
        with controller(server, token_of(timer)) as box:
            for _ in range(3):
                assert box.get(f"/timers/{timer['id']}").status_code == 200
            assert owner.get("/account").json()["usage"]["requests_today"] == before + 4
            # The free plan's burst, then the same 429 an API key gets, from the same budget.
            allowed = 0
            while allowed < 40 and (answer := box.patch(
                    f"/timers/{timer['id']}/state", json={"state": "running"})).is_success:
                allowed += 1
            error_of(answer, 429, "rate_limited", None, "rate limit of the free plan reached")
            # Six were counted before (the creation, two account reads, three gets); the
            # budget refills one every 2 s, which a slow run may see once.
            assert 30 - 6 <= allowed < 40
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.headers["X-RateLimit-Remaining"] == "0"
            assert answer.headers["RateLimit-Policy"] == "30;w=60, 1000;w=86400"
        assert owner.get("/timers").status_code == 429


@pytest.mark.parametrize("header", [
    "Bearer ctl_", "Bearer ctl_short", "Bearer ctl_" + "x" * 65, "Bearer ctl_" + "%" * 33,
    "Bearer ctl_" + "a" * 16 + "-" + "b" * 16, "bearer  ctl_" + "a" * 10])
def test_a_malformed_control_token_gets_a_clear_401(server, timer, header):
    with client(server, None) as anonymous:
        for answer in (anonymous.get(f"/timers/{timer['id']}", headers={"Authorization": header}),
                       anonymous.get("/account", headers={"Authorization": header})):
            error_of(answer, 401, "authentication_error", None,
                     "malformed control token: after 'ctl_' come 16 to 64 letters and digits, "
                     "as in the timer's urls.control")
            token = header.split()[-1]
            assert token == "ctl_" or token not in answer.json()["error"]["message"]


def test_the_control_token_never_reaches_the_servers_log(tmp_path):
    server = Server(sqlite_url(tmp_path), tmp_path, args=("--log-level", "debug")).start()
    try:
        with client(server, make_key(server.engine_url)) as api:
            timer = api.post("/timers", json=COUNTDOWN).json()
            token = token_of(timer)
            with controller(server, token) as box:
                assert box.patch(f"/timers/{timer['id']}/state",
                                 json={"state": "running"}).status_code == 200
                assert box.get("/account").status_code == 404
                assert box.post(f"/timers/{timer['id']}/adjust", json={}).status_code == 400
            api.post(f"/timers/{timer['id']}/control-token/rotate")
            with controller(server, token) as stale:
                assert stale.get(f"/timers/{timer['id']}").status_code == 404
        log = server.output()
        assert f"/api/v1/timers/{timer['id']}/state" in log  # the access log was on
        assert token not in log and token[4:] not in log
    finally:
        server.stop()
