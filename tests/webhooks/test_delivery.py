"""Deliveries end to end: a real server commits, its dispatcher POSTs to a real receiver on
loopback, and the receiver checks every signature the way customers will."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import standardwebhooks

from server.webhooks.signing import verify_signature
from tests.servers import Server, client, make_key
from tests.webhooks.conftest import SCHEDULE
from tests.webhooks.receiver import Answer, Received


@pytest.fixture
def api(hook_server: Server) -> Iterator[httpx.Client]:
    with client(hook_server, make_key(hook_server.engine_url, plan="enterprise")) as http:
        yield http


def create(api: httpx.Client, url: str, **fields: object) -> dict:
    answer = api.post("/timers", json={"webhook_url": url, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def act(api: httpx.Client, timer_id: str, action: str) -> None:
    answer = api.patch(f"/timers/{timer_id}/state", json={"action": action})
    assert answer.status_code == 200, answer.text


def deliveries(api: httpx.Client, timer_id: str) -> list[dict]:
    answer = api.get(f"/timers/{timer_id}/deliveries", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def settled(api: httpx.Client, timer_id: str, status: str, count: int = 1,
            timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [d for d in deliveries(api, timer_id) if d["status"] == status]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {status} delivery of {timer_id}: {deliveries(api, timer_id)}")


def check_signatures(request: Received, secret: str, rotating: bool = False) -> dict:
    """All three signatures verify: the header over the raw body, the body's own field, and
    the Standard Webhooks headers through the standardwebhooks package."""
    assert verify_signature(request.body, request.headers["x-castimer-signature"], secret)
    body = orjson.loads(request.body)
    field = body.pop("signature")
    assert verify_signature(orjson.dumps(body), field, secret)
    assert request.body.endswith(b',"signature":"' + field.encode() + b'"}')
    standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    # The old secret's signature rides beside the new one only during a rotation's overlap.
    assert ("x-castimer-signature-previous" in request.headers) == rotating
    assert request.headers["webhook-id"] == request.headers["x-castimer-delivery"]
    assert request.headers["x-castimer-event"] == body["event"]
    assert request.headers["user-agent"] == "Castimer-Webhooks/1.0"
    assert request.headers["content-type"] == "application/json"
    return body


def test_every_event_arrives_signed_and_in_version_order(hook_server, api, receiver):
    secret = api.get("/account").json()["webhook_secret"]
    assert secret.startswith("whsec_")
    countdown = create(api, receiver.url("/order/countdown"), type="countdown", duration=1)
    interval = create(api, receiver.url("/order/interval"), type="interval", work=1, rest=1,
                      rounds=2)
    act(api, interval["id"], "start")
    for action in ("start", "pause", "resume", "reset", "start"):
        act(api, countdown["id"], action)
    expected = {
        countdown["id"]: ("/order/countdown", ["timer.started", "timer.paused", "timer.resumed",
                                               "timer.reset", "timer.started",
                                               "timer.completed"]),
        interval["id"]: ("/order/interval", ["timer.started", "interval.round_end",
                                             "interval.round_end", "interval.completed",
                                             "timer.completed"])}
    for timer_id, (path, names) in expected.items():
        arrived = receiver.wait(path, len(names))
        bodies = [check_signatures(r, secret) for r in arrived]
        assert [b["event"] for b in bodies] == names
        assert all(b["timer_id"] == timer_id for b in bodies)
        # Version order: the order of the timer's event log, event by event.
        log = api.get("/events", params={"timer_id": timer_id}).json()["data"]
        assert [b["id"] for b in bodies] == [e["id"] for e in log]
        assert [e["version"] for e in log] == sorted(e["version"] for e in log)
        rounds = [b["data"]["round"] for b in bodies if b["event"] == "interval.round_end"]
        assert rounds in ([], [1, 2])
        listed = settled(api, timer_id, "succeeded", len(names))
        assert {d["id"] for d in listed} == {r.headers["webhook-id"] for r in arrived}


TITLES = ['Grand "Opening" \\ à la café', "Flash ⚡ sale 🎉 — 終わり", "line one\nline two\ttab",
          "quote ' and </script> & < >", "\u2028 separators \u2029 and \x01 control"]


def test_bodies_equal_javascripts_reserialisation(hook_server, api, receiver):
    for n, title in enumerate(TITLES):
        timer = create(api, receiver.url(f"/json/{n}"), type="countdown", duration=60,
                       title=title)
        assert api.post(f"/timers/{timer['id']}/webhooks/test").status_code == 202
        act(api, timer["id"], "start")
    bodies = [r.body for n in range(len(TITLES)) for r in receiver.wait(f"/json/{n}", 2)]
    assert {orjson.loads(b)["title"] for b in bodies} == set(TITLES)
    assert {orjson.loads(b)["event"] for b in bodies} == {"webhook.test", "timer.started"}
    # Node's JSON.stringify(JSON.parse(body)) must give back the very bytes.
    script = ("const bodies = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const out = bodies.map(b => { const raw = Buffer.from(b, 'base64').toString('utf8');"
              " return JSON.stringify(JSON.parse(raw)) === raw; });"
              "process.stdout.write(JSON.stringify(out));")
    encoded = json.dumps([base64.b64encode(b).decode() for b in bodies])
    node = subprocess.run(["node", "-e", script], input=encoded, capture_output=True, text=True,
                          timeout=30, check=True)
    assert json.loads(node.stdout) == [True] * len(bodies)


def test_a_failing_receiver_gets_five_attempts_on_the_schedule_then_a_manual_retry(
        hook_server, api, receiver):
    receiver.answers["/fail"] = Answer(500, body=b"broken " * 1000)
    timer = create(api, receiver.url("/fail"), type="countdown", duration=60,
                   webhook_events=["timer.started"])
    act(api, timer["id"], "start")
    [failed] = settled(api, timer["id"], "failed")
    detail = api.get(f"/deliveries/{failed['id']}").json()
    attempts = detail["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3, 4, 5]
    assert all(a["status_code"] == 500 and a["error"] == "HTTP 500" for a in attempts)
    assert all(len(a["response"].encode()) <= 2048 and a["response"].startswith("broken")
               for a in attempts)
    arrived = receiver.at("/fail")
    assert len(arrived) == 5
    assert len({r.headers["webhook-id"] for r in arrived}) == 1  # one delivery, five attempts
    gaps = [b.at - a.at for a, b in itertools.pairwise(arrived)]
    for gap, delay in zip(gaps, SCHEDULE[1:], strict=True):
        assert gap >= delay - 0.05, (gaps, SCHEDULE)
    assert detail["payload"]["event"] == "timer.started" and detail["next_attempt_at"] is None

    receiver.answers["/fail"] = Answer(200)
    retried = api.post(f"/deliveries/{failed['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    assert api.post(f"/deliveries/{failed['id']}/retry").status_code in (202, 409)
    settled(api, timer["id"], "succeeded")
    attempts = api.get(f"/deliveries/{failed['id']}").json()["attempts"]
    assert attempts[-1]["status_code"] == 200 and len(attempts) >= 6
    assert len(receiver.at("/fail")) == len(attempts)


def test_retry_after_on_429_pushes_the_next_attempt_later(hook_server, api, receiver):
    receiver.answers["/busy"] = lambda n: (Answer(429, {"Retry-After": "2"}) if n == 1
                                           else Answer(200))
    timer = create(api, receiver.url("/busy"), type="countdown", duration=60)
    act(api, timer["id"], "start")
    first, second = receiver.wait("/busy", 2)
    assert second.at - first.at >= 1.95  # the schedule alone would say 0.3 s
    [done] = settled(api, timer["id"], "succeeded")
    assert [a["status_code"] for a in api.get(f"/deliveries/{done['id']}").json()[
        "attempts"]] == [429, 200]


def test_410_stops_the_timers_deliveries_to_that_url(hook_server, api, receiver):
    # The first attempt answers 410 slowly, so the timer's next deliveries queue behind it.
    receiver.answers["/gone"] = Answer(410, delay=0.5)
    timer = create(api, receiver.url("/gone"), type="countdown", duration=60)
    act(api, timer["id"], "start")
    act(api, timer["id"], "pause")
    act(api, timer["id"], "resume")
    cancelled = settled(api, timer["id"], "cancelled", 3)
    assert sorted(len(api.get(f"/deliveries/{d['id']}").json()["attempts"])
                  for d in cancelled) == [0, 0, 1]
    deadline = time.monotonic() + 5
    while api.get(f"/timers/{timer['id']}").json()["webhook_url"] is not None:
        assert time.monotonic() < deadline, "the webhook_url was not cleared"
        time.sleep(0.05)
    act(api, timer["id"], "pause")
    act(api, timer["id"], "resume")
    time.sleep(0.5)
    assert len(receiver.at("/gone")) == 1
    assert len(deliveries(api, timer["id"])) == 3


def test_delivery_endpoints_refuse_other_accounts_and_bad_input(hook_server, api, receiver):
    timer = create(api, receiver.url("/mine"), type="countdown", duration=60)
    sent = api.post(f"/timers/{timer['id']}/webhooks/test")
    assert sent.status_code == 202 and sent.json()["event"] == "webhook.test"
    delivery_id = sent.json()["id"]
    with client(hook_server, make_key(hook_server.engine_url)) as stranger:
        assert stranger.get(f"/deliveries/{delivery_id}").status_code == 404
        assert stranger.post(f"/deliveries/{delivery_id}/retry").status_code == 404
        assert stranger.get(f"/timers/{timer['id']}/deliveries").status_code == 404
        assert stranger.post(f"/timers/{timer['id']}/webhooks/test").status_code == 404
    bare = create(api, "", type="countdown", duration=60)
    refused = api.post(f"/timers/{bare['id']}/webhooks/test")
    assert refused.status_code == 422 and refused.json()["error"]["param"] == "webhook_url"
    bad = api.get(f"/timers/{timer['id']}/deliveries", params={"cursor": "bm9wZQ"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "cursor"
    assert api.post(f"/deliveries/{delivery_id}/retry", content=b"[1]",
                    headers={"Content-Type": "application/json"}).status_code == 400
    assert api.get("/deliveries/dlv_nothing").status_code == 404


def test_rotation_signs_with_both_secrets_during_the_overlap(hook_server, api, receiver):
    old = api.get("/account").json()["webhook_secret"]
    rotated = api.post("/account/webhook-secret/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["webhook_secret"]
    assert new != old and rotated.json()["previous_webhook_secret_expires_at"]
    assert api.get("/account").json()["webhook_secret"] == new
    timer = create(api, receiver.url("/rotated"), type="countdown", duration=60)
    api.post(f"/timers/{timer['id']}/webhooks/test")
    [request] = receiver.wait("/rotated", 1)
    check_signatures(request, new, rotating=True)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    standardwebhooks.Webhook(old).verify(request.body, request.headers)  # the overlap
    assert not verify_signature(request.body, request.headers["x-castimer-signature"], old)
    assert verify_signature(request.body, request.headers["x-castimer-signature-previous"], old)
