"""Every error path answers the documented JSON and status, names the field, and leaves what
is stored untouched."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import client, make_key


def error_of(response: httpx.Response, status: int, type_: str, param: str | None = None,
             says: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == type_
    assert error["param"] == param
    assert says in error["message"]
    assert "Traceback" not in response.text
    return error


@pytest.fixture
def timer(api) -> dict:
    return api.post("/timers", json={"type": "countdown", "duration": 60}).json()


@pytest.mark.parametrize(("content", "param", "says"), [
    (b'{"type": "countdown", "duration": 60', None, "malformed JSON"),
    (b"[1, 2]", None, "must be a JSON object, got array"),
    (b'{"type": "countdown", "duration": "60"}', "duration", "duration must be an integer, "
     "got string"),
    (b'{"type": "countdown", "duration": 1.5}', "duration", "must be an integer, got 1.5"),
    (b'{"type": "countdown", "duration": true}', "duration", "got boolean"),
    (b'{"type": "countdown", "duration": 60, "colour": "red"}', "colour",
     "unknown field 'colour'; allowed fields: title, type, duration"),
    (b'{"type": 3}', "type", "type must be a string"),
    (b'{"webhook_events": "timer.completed"}', "webhook_events", "array of strings"),
])
def test_bad_request_bodies_are_400(api, content, param, says):
    response = api.post("/timers", content=content,
                        headers={"Content-Type": "application/json"})
    error_of(response, 400, "invalid_request", param, says)


@pytest.mark.parametrize("content", [b"", b"  \n"])
def test_an_empty_body_is_400_where_fields_are_expected(api, timer, content):
    json_type = {"Content-Type": "application/json"}
    # Each with a body that would do: title, the first field, is optional.
    error_of(api.post("/timers", content=content, headers=json_type), 400, "invalid_request",
             None, 'the request body is empty: send a JSON object, like {"type": "countdown", '
             '"duration": 60}')
    error_of(api.patch(f"/timers/{timer['id']}/state", content=content, headers=json_type),
             400, "invalid_request", None, 'send a JSON object, like {"action": "start"}')
    error_of(api.post(f"/timers/{timer['id']}/adjust", content=content, headers=json_type),
             400, "invalid_request", None, 'send a JSON object, like {"seconds": …}')
    assert [(t["id"], t["version"]) for t in api.get("/timers").json()["data"]] == [
        (timer["id"], 1)]
    # Endpoints that take no fields are called without a body, or with a blank JSON one.
    assert api.post(f"/timers/{timer['id']}/control-token/rotate").is_success
    assert api.post(f"/timers/{timer['id']}/control-token/rotate", content=content,
                    headers=json_type).is_success


def test_an_oversized_body_is_413(api):
    response = api.post("/timers", content=b'{"title": "' + b"x" * 70_000 + b'"}',
                        headers={"Content-Type": "application/json"})
    error_of(response, 413, "payload_too_large", None, "at most 65536 bytes")


def test_missing_malformed_invalid_and_revoked_keys_are_401(server, api, key):
    with client(server, None) as anonymous:
        error_of(anonymous.get("/timers"), 401, "authentication_error", None, "missing API key")
        for header in ("Basic abc", "Bearer", "Bearer sk_test_123", "ck_live_x"):
            error_of(anonymous.get("/timers", headers={"Authorization": header}), 401,
                     "authentication_error", None, "malformed Authorization header")
        error_of(anonymous.get("/timers", headers={"Authorization": "Bearer ck_live_nope"}),
                 401, "authentication_error", None, "invalid API key")
    from server.cli import main

    assert main(["keys", "revoke", key[:16], "--engine", server.engine_url]) == 0
    error_of(api.get("/timers"), 401, "authentication_error", None, "revoked")


def test_unknown_ids_and_other_accounts_timers_are_404(server, api, timer):
    error_of(api.get("/timers/tmr_doesnotexist"), 404, "not_found", "id", "no timer")
    api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})  # it has events now
    with client(server, make_key(server.engine_url)) as stranger:
        for response in (stranger.get(f"/timers/{timer['id']}"),
                         stranger.patch(f"/timers/{timer['id']}/state",
                                        json={"state": "paused"}),
                         stranger.post(f"/timers/{timer['id']}/adjust", json={"seconds": 5}),
                         stranger.get(f"/timers/{timer['id']}/deliveries"),
                         stranger.post(f"/timers/{timer['id']}/webhooks/test"),
                         stranger.delete(f"/timers/{timer['id']}")):
            error_of(response, 404, "not_found", "id")
        assert stranger.get("/events").json()["data"] == []
        assert stranger.get("/events", params={"timer_id": timer["id"]}).json()["data"] == []
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "running"
    assert len(api.get("/events", params={"timer_id": timer["id"]}).json()["data"]) == 1
    error_of(api.get("/nowhere"), 404, "not_found", None, "no such endpoint")
    error_of(api.get("/timers/tmr_doesnotexist/deliveries"), 404, "not_found", "id", "no timer")
    assert api.get(f"/timers/{timer['id']}/deliveries").json()["data"] == []


def test_a_stale_expected_version_is_409_and_changes_nothing(api, timer):
    started = api.patch(f"/timers/{timer['id']}/state",
                        json={"state": "running", "expected_version": 1})
    assert started.json()["version"] == 2
    error = error_of(api.patch(f"/timers/{timer['id']}/state",
                               json={"state": "paused", "expected_version": 1}),
                     409, "version_conflict", "expected_version", "version 2")
    assert error["current_version"] == 2
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "running"


@pytest.mark.parametrize(("body", "param", "says"), [
    ({"type": "countdown", "duration": -1}, "duration", "between 1 and"),
    ({"type": "event", "target_date": "2001-01-01T00:00:00Z"}, "target_date", "in the future"),
    ({"type": "event", "target_date": "2031-01-01T00:00:00Z", "timezone": "Moon/Base"},
     "timezone", "IANA time zone"),
    ({"type": "hourglass"}, "type", "type must be one of countdown, event, interval"),
    ({"type": "countdown", "duration": 5, "webhook_url": "http://example.com/hook"},
     "webhook_url", "https"),
    ({"type": "countdown", "duration": 5, "webhook_url": "http://example.com/hook"},
     "webhook_url", "CASTIMER_ALLOW_PRIVATE_WEBHOOKS=1 on the server allows http:// URLs"),
    ({"type": "countdown", "duration": 5, "webhook_url": "https://10.0.0.1/hook"},
     "webhook_url", "CASTIMER_ALLOW_PRIVATE_WEBHOOKS=1 on the server allows private addresses"),
    ({"type": "countdown", "duration": 5, "webhook_url": "not a url"}, "webhook_url",
     "spaces or control characters"),
    ({"type": "countdown", "duration": 5, "webhook_url": "ftp://example.com/x"}, "webhook_url",
     "https"),
    ({"type": "countdown", "duration": 5, "webhook_url": "https://exa\nmple.com/x"},
     "webhook_url", "control characters"),
    ({"type": "countdown", "duration": 5, "webhook_url": "https://\u0000/x"}, "webhook_url",
     "control characters"),
    ({"type": "countdown", "duration": 5, "webhook_url": "https://user:pw@example.com/x"},
     "webhook_url", "user:password"),
])
def test_invalid_values_are_422(api, body, param, says):
    error_of(api.post("/timers", json=body), 422, "validation_error", param, says)


def test_invalid_transitions_are_422(api, timer):
    error_of(api.patch(f"/timers/{timer['id']}/state", json={"state": "paused"}), 422,
             "validation_error", "state", "cannot go from idle to paused")
    error_of(api.patch(f"/timers/{timer['id']}/state", json={"action": "pause"}), 422,
             "validation_error", "state", "cannot pause a timer that is idle")
    event = api.post("/timers", json={"type": "event",
                                      "target_date": "2031-01-01T00:00:00Z"}).json()
    error_of(api.patch(f"/timers/{event['id']}/state", json={"state": "paused"}), 422,
             "validation_error", "state", "event timers")
    error_of(api.patch(f"/timers/{timer['id']}/state", json={"state": "done"}), 422,
             "validation_error", "state", "state must be one of running, paused, idle")
    error_of(api.patch(f"/timers/{timer['id']}/state", json={}), 400, "invalid_request",
             "state", 'either "state"')
    error_of(api.get("/timers?limit=0"), 422, "validation_error", "limit", "between 1 and 100")
    error_of(api.get("/timers?limit=ten"), 400, "invalid_request", "limit", "integer")
    error_of(api.get("/timers?cursor=%%%"), 400, "invalid_request", "cursor")
    assert api.get(f"/timers/{timer['id']}").json()["version"] == 1


@pytest.mark.parametrize("cursor", ["99999999999999999999999:x", "99999999999999999999999",
                                    "18446744073709551615-18446744073709551615",
                                    "99999999999999999999999-0", "²", "-1", "1:", ":"])
def test_forged_cursors_are_400_not_500(api, cursor):
    import base64

    forged = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    for path in ("/timers", "/events"):
        error_of(api.get(path, params={"cursor": forged}), 400, "invalid_request", "cursor",
                 "cursor is not one this API returned")


@pytest.mark.parametrize(("number", "status", "says"), [
    (b"1800.0", 400, "duration must be an integer, got 1800.0"),
    (b"1e3", 400, "duration must be an integer, got 1e3"),
    (b"-0.0", 400, "duration must be an integer, got -0.0"),
    (b"99999999999999999999999", 422,
     "duration must be between 1 and 316224000 seconds, got 99999999999999999999999"),
    (b"1" + b"0" * 30, 422, "duration must be between 1 and 316224000 seconds, got 1" + "0" * 30),
    (b"316224001", 422, "duration must be between 1 and 316224000 seconds, got 316224001"),
])
def test_integer_fields_say_whether_a_number_is_no_integer_or_out_of_range(api, number, status,
                                                                           says):
    response = api.post("/timers", content=b'{"type": "countdown", "duration": ' + number + b"}",
                        headers={"Content-Type": "application/json"})
    error_of(response, status, "invalid_request" if status == 400 else "validation_error",
             "duration", says)


def test_odd_numbers_get_clear_answers(api, timer):
    error_of(api.delete(f"/timers/{timer['id']}", params={"expected_version": "\u00b2"}), 400,
             "invalid_request", "expected_version", "integer")
    error_of(api.delete(f"/timers/{timer['id']}", params={"expected_version": "²"}), 400,
             "invalid_request", "expected_version", "integer")
    error_of(api.delete(f"/timers/{timer['id']}", params={"expected_version": "-1"}), 422,
             "validation_error", "expected_version", "between 1 and")
    error_of(api.delete(f"/timers/{timer['id']}", params={"expected_version": "7"}), 409,
             "version_conflict", "expected_version")
    error_of(api.patch(f"/timers/{timer['id']}/state", json={"action": "adjust"}), 422,
             "validation_error", "action", "start, pause, resume, reset")
    error_of(api.patch(f"/timers/{timer['id']}/state",
                       json={"state": "running", "expected_version": 2**70}), 422,
             "validation_error", "expected_version",
             f"expected_version must be between 1 and {2**63 - 1}, got {2**70}")
    error_of(api.post(f"/timers/{timer['id']}/adjust", json={"seconds": 2**64}), 422,
             "validation_error", "seconds", "seconds must be between -316224000 and 316224000")
    error_of(api.patch(f"/timers/{timer['id']}/state", json={"action": "reset"}), 422,
             "validation_error", "state", "cannot reset a timer that is idle")
    assert api.get(f"/timers/{timer['id']}").json()["version"] == 1


def test_the_31st_request_in_a_minute_on_the_free_plan_is_429(server):
    with client(server, make_key(server.engine_url, plan="free")) as free:
        answers = [free.get("/timers") for _ in range(31)]
    assert [a.status_code for a in answers[:30]] == [200] * 30
    first = answers[0].headers
    assert first["RateLimit-Policy"] == "30;w=60, 1000;w=86400"
    assert first["RateLimit"].startswith("limit=30, remaining=29, reset=")
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("30", "29")
    refused = answers[30]
    error_of(refused, 429, "rate_limited", None, "30 requests per minute")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_health_and_readiness_need_no_key(server):
    assert httpx.get(f"{server.base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.base}/readyz").json() == {"status": "ready"}


def test_a_405_lists_the_methods_the_path_serves(server, api):
    for method, path, allowed in [("PUT", "/api/v1/timers", "GET, HEAD, POST"),
                                  ("OPTIONS", "/api/v1/timers/tmr_x", "DELETE, GET, HEAD, PATCH"),
                                  ("POST", "/static/castimer.js", "GET, HEAD"),
                                  ("DELETE", "/widget", "GET, HEAD")]:
        answer = httpx.request(method, server.base + path)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["allow"] == allowed, (method, path)


@pytest.mark.parametrize(("content", "status", "says"), [
    # Nested deeper than Python's json reads (orjson reads it): still an answer, no 500.
    (b'{"type": "countdown", "duration": 1.5, "title": ' + b"[" * 1000 + b"]" * 1000 + b"}",
     400, "duration must be an integer, got 1.5"),
    (b'{"type": "countdown", "duration": 1' + b"0" * 400 + b"}", 422,
     "duration must be between 1 and 316224000 seconds, got 1" + "0" * 400),
    (b'{"type": "countdown", "duration": 1' + b"0" * 5000 + b"}", 422,
     "duration must be between 1 and 316224000, got an integer of 5001 digits"),
    (b'{"type": "countdown", "duration": 1e999}', 400, "duration must be an integer, got 1e999"),
])
def test_numbers_no_parser_holds_get_clear_answers(api, content, status, says):
    answer = api.post("/timers", content=content, headers={"Content-Type": "application/json"})
    error_of(answer, status, "invalid_request" if status == 400 else "validation_error",
             "duration", says)
