"""The OpenAPI 3.1 document of API v1. Request bodies are built from the same field specs
the parser enforces, so the document and the behaviour cannot drift apart."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import __version__, rundowns, timers
from . import rundowns as rundown_api
from . import schema
from .responses import json_response
from .timers import ADJUST_FIELDS, EDIT_FIELDS, MESSAGE_FIELDS, STATE_FIELDS, TIMER_FIELDS

_JSON_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"},
               "boolean": {"type": "boolean"},
               "strings": {"type": "array", "items": {"type": "string"}}}

_DESCRIPTIONS = {
    "title": "Display title, at most 200 characters.",
    "type": "countdown (duration), event (target_date, timezone) or interval (work, rest, "
            "rounds). Default countdown.",
    "duration": "Countdown length in seconds (1 to 316,224,000: no timer runs over 3,660 days).",
    "target_date": "Event target: ISO 8601 with an offset or Z, in the future.",
    "timezone": "IANA time zone the timer is shown in: an event's target, a scheduled start, the "
                "stage's time of day. Any type; an event's default is UTC, other types show a "
                "scheduled start with the offset it was written with until one is set.",
    "work": "Interval work phase in seconds. Default 20.",
    "rest": "Interval rest phase in seconds (0 allowed). Default 10.",
    "rounds": "Interval rounds (1 to 1000). Default 8.",
    "webhook_url": "https URL that receives this timer's events.",
    "webhook_events": "Events to deliver; null delivers all.",
    "expected_version": "Apply only if the timer is at this version (else 409).",
    "state": "Target state: running, paused, idle or completed (stops it).",
    "action": "start, pause, resume, reset or stop.",
    "seconds": "Seconds to add (positive) or remove (negative).",
    "overtime": "Countdown and event timers: after completing, count on below zero (state "
                "overtime) until stopped. Default false.",
    "warn_at": "Seconds of remaining time at which the timer turns 'warning' and fires "
               "timer.warning (1 to below its length), or null.",
    "danger_at": "Seconds of remaining time at which it turns 'danger' and fires "
                 "timer.warning (below warn_at), or null.",
    "blackout": "While true every display of the timer shows only black.",
    "start_at": "Countdown and interval timers: start by itself at this instant (ISO 8601 with "
                "an offset, in the future), its running time anchored there; null: no "
                "scheduled start. Changes only while idle.",
    "text": "The message for the people on stage, 1 to 280 characters (line breaks allowed).",
    "flash": "Make the message blink. Default false.",
    "timers": f"A rundown's timer ids (tmr_…) in show order: 1 to {rundowns.MAX_TIMERS} "
              "distinct timers of the account; a timer may be in several rundowns.",
    "auto_advance": "When the current timer reaches zero, start the next at once, anchored at "
                    "that deadline. Default false.",
    "to": '"next", "previous", or a timer id of the rundown: it becomes current and starts; '
          "the timer it replaces, unless it completed, is stopped.",
    "from": "Advance only if the show is still on this timer (else 409 show_moved_on): a "
            '"next" that lands just after an auto-advance does not skip a timer.',
}


#: What the parser enforces of each integer field, stated in the document.
_INTEGER_RANGES = {**timers.RANGES, **schema.RANGES}


def _body(spec: schema.Spec, required: tuple[str, ...] = ()) -> dict[str, Any]:
    properties = {}
    for name, kind in spec.items():
        prop = dict(_JSON_TYPES[kind.rstrip("?")])
        if kind.endswith("?"):
            prop["type"] = [prop["type"], "null"]
        if name == "webhook_events":
            prop["items"] = {"type": "string", "enum": list(timers.EVENTS)}
        if name in _INTEGER_RANGES:
            prop["minimum"], prop["maximum"] = _INTEGER_RANGES[name]
        prop["description"] = _DESCRIPTIONS[name]
        properties[name] = prop
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": list(required),
        "additionalProperties": False}}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema_: dict[str, Any] | None = None,
        status: str = "200") -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema_ is not None:
        answer["content"] = {"application/json": {"schema": schema_}}
    return {status: answer}


_RATE_HEADERS = {
    name: {"description": description, "schema": {"type": "string"}}
    for name, description in [
        ("RateLimit-Policy", "The plan's budgets: '30;w=60, 1000;w=86400'"),
        ("RateLimit", "limit, remaining and reset (seconds) of the tighter budget"),
        ("X-RateLimit-Limit", "Requests allowed in the tighter budget"),
        ("X-RateLimit-Remaining", "Requests left in it"),
        ("X-RateLimit-Reset", "When it is whole again (epoch seconds)")]}


#: Every operation but those open to anyone answers a control token with 404 unless it lists
#: this scheme; those that do take it for the timer in their path only.
_CONTROLLED_SECURITY = [{"apiKey": []}, {"dashboardSession": []}, {"controlToken": []}]
_NOT_FOR_CONTROL = "any request with a control token, which this operation does not take"


def _errors(*codes: int, controllable: bool = False, what: str = "timer") -> dict[str, Any]:
    if 404 not in codes:
        missing = _NOT_FOR_CONTROL[0].upper() + _NOT_FOR_CONTROL[1:]
    elif controllable:
        missing = (f"No such {what} in this account; with a control token, not the {what} it "
                   "controls (a rotated token included)")
    else:
        missing = f"No such {what} in this account; also {_NOT_FOR_CONTROL}"
    meaning = {400: "Malformed JSON, a wrong type or an unknown field",
               401: "Missing, malformed, invalid or revoked API key (or session's key), or a "
                    "malformed control token",
               403: "A dashboard session used from another site or without its CSRF token",
               404: missing, 409: "expected_version does not match (an advance: or the "
                                  "show is no longer on its `from` timer)",
               422: "A value or transition that is not allowed",
               413: "The body is larger than 64 KiB",
               415: "A body without Content-Type: application/json",
               429: "Rate limit reached (see Retry-After)",
               503: "The timer store is unreachable"}
    answers = {str(c): {"description": meaning[c], "content": {"application/json": {
        "schema": _ref("Error")}}} for c in sorted({400, 401, 403, 404, *codes, 413, 415, 429,
                                                    503})}
    answers["429"]["headers"] = {**_RATE_HEADERS, "Retry-After": {
        "description": "Seconds until a request would be allowed",
        "schema": {"type": "integer"}}}
    return answers


def _op(summary: str, responses: dict[str, Any], body: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None, codes: tuple[int, ...] = (),
        controllable: bool = False, what: str = "timer") -> dict[str, Any]:
    """An operation; `controllable`: open to the control token of the timer (or rundown:
    `what`) in its path too."""
    for answer in responses.values():
        answer["headers"] = _RATE_HEADERS
    op: dict[str, Any] = {"summary": summary, "responses": {
        **responses, **_errors(*codes, controllable=controllable, what=what)}}
    if controllable:
        op["security"] = _CONTROLLED_SECURITY
        op["description"] = (f"Also with the {what}'s control token (Bearer ctl_…), as its "
                             f"owner's request: the {what} it answers then leaves out "
                             + ("webhook_url and webhook_events." if what == "timer" else
                                "webhook_url."))
    if body:
        op["requestBody"] = body
    if parameters:
        op["parameters"] = parameters
    return op


def _param(name: str, where: str, description: str, type_: str = "string",
           required: bool = False, **limits: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": {"type": type_, **limits}}


_TIMER_ID = _param("timer_id", "path", "The timer's id (tmr_…)", required=True)


def _page(most: int) -> list[dict[str, Any]]:
    return [_param("limit", "query", f"Page size (1 to {most})", "integer", minimum=1,
                   maximum=most),
            _param("cursor", "query", "next_cursor of the previous page, as it came")]

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}

_SECRET_PROPERTIES = {
    "webhook_secret": {"type": "string", "description": "whsec_…: signs every delivery"},
    "previous_webhook_secret_expires_at": {**_NULLABLE_STRING, "description": "After a "
                                           "rotation, when the old secret stops signing"}}
_DELIVERY_ID = _param("delivery_id", "path", "The delivery's id (dlv_…)", required=True)

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message", "param"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"},
            "param": _NULLABLE_STRING,
            "current_version": {"type": "integer"}}}}},
    "Timer": {"type": "object", "required": ["id", "type", "title", "state", "version",
                                             "remaining_ms", "elapsed_ms", "urls"],
              "properties": {
                  "id": {"type": "string"}, "type": {"type": "string",
                                                     "enum": list(timers.TYPES)},
                  "title": {"type": "string"},
                  "state": {"type": "string", "enum": [s.value for s in timers.State]},
                  "duration": {"type": "integer"}, "target_date": {"type": "string"},
                  "timezone": _NULLABLE_STRING, "work": {"type": "integer"},
                  "rest": {"type": "integer"}, "rounds": {"type": "integer"},
                  "adjustment": {"type": "integer", "description": "Seconds added (or "
                                 "removed, negative) by adjust since the last reset."},
                  "remaining_ms": {"type": "integer"}, "elapsed_ms": {"type": "integer"},
                  "total_ms": {"type": "integer"}, "round": _NULLABLE_INT,
                  "phase": {"type": ["string", "null"], "enum": ["work", "rest", None]},
                  "version": {"type": "integer"},
                  "created_at": {"type": "string"}, "updated_at": {"type": "string"},
                  "started_at": _NULLABLE_STRING, "paused_at": _NULLABLE_STRING,
                  "completed_at": _NULLABLE_STRING,
                  "server_time": {"type": "integer", "description": "Epoch ms the live "
                                  "fields were computed at."},
                  "level": {"type": "string", "enum": list(timers.LEVELS),
                            "description": "What the remaining time means at server_time."},
                  "overtime": {"type": "boolean"},
                  "overtime_ms": {"type": "integer", "description": "How long it has counted "
                                  "past zero (countdown and event timers)."},
                  "warn_at": _NULLABLE_INT, "danger_at": _NULLABLE_INT,
                  "message": {"type": ["object", "null"], "properties": {
                      "text": {"type": "string"}, "flash": {"type": "boolean"},
                      "at": {"type": "string"}}},
                  "blackout": {"type": "boolean"}, "start_at": _NULLABLE_STRING,
                  "viewers": {"type": "integer", "description": "Open viewer sockets of the "
                              "timer across every server process (within about 3 s)."},
                  "webhook_url": _NULLABLE_STRING,
                  "webhook_events": {"type": ["array", "null"], "items": {"type": "string"}},
                  "urls": {"type": "object", "properties": {
                      "widget": {"type": "string"}, "embed": {"type": "string"},
                      "stage": {"type": "string"}, "control": {"type": "string"}}}}},
    "TimerPage": {"type": "object", "required": ["data", "has_more", "next_cursor"],
                  "properties": {"data": {"type": "array", "items": _ref("Timer")},
                                 "has_more": {"type": "boolean"},
                                 "next_cursor": _NULLABLE_STRING}},
    "Event": {"type": "object", "required": ["id", "event", "timestamp", "data"],
              "description": "A timer's event has timer_id; a rundown's, rundown_id.",
              "properties": {"id": {"type": "string"},
                             "event": {"type": "string",
                                       "enum": [*timers.EVENTS, *rundowns.EVENTS]},
                             "timestamp": {"type": "string"}, "timer_id": {"type": "string"},
                             "rundown_id": {"type": "string"},
                             "title": {"type": "string"}, "type": {"type": "string"},
                             "version": {"type": "integer"}, "data": {"type": "object"}}},
    "EventPage": {"type": "object", "required": ["data", "has_more", "next_cursor"],
                  "properties": {"data": {"type": "array", "items": _ref("Event")},
                                 "has_more": {"type": "boolean"},
                                 "next_cursor": _NULLABLE_STRING}},
    "Account": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "plan": {"type": "string"},
        "created_at": {"type": "string"},
        "limits": {"type": "object", "properties": {
            "requests_per_minute": {"type": "integer"}, "requests_per_day": _NULLABLE_INT}},
        "usage": {"type": "object", "properties": {"requests_today": {"type": "integer"}}},
        **_SECRET_PROPERTIES}},
    "WebhookSecret": {"type": "object", "required": ["webhook_secret"],
                      "properties": _SECRET_PROPERTIES},
    "Delivery": {"type": "object", "required": ["id", "event", "url", "status"],
                 "description": "A timer's delivery has timer_id; a rundown's, rundown_id.",
                 "properties": {
                     "id": {"type": "string", "description": "dlv_…; the webhook-id header, "
                            "the same on every attempt"},
                     "timer_id": {"type": "string"}, "rundown_id": {"type": "string"},
                     "event_id": {"type": "string"},
                     "event": {"type": "string"}, "url": {"type": "string"},
                     "status": {"type": "string",
                                "enum": ["pending", "succeeded", "failed", "cancelled"]},
                     "attempt_count": {"type": "integer"}, "created_at": {"type": "string"},
                     "next_attempt_at": _NULLABLE_STRING,
                     "payload": {"type": "object", "description": "The body as sent, without "
                                 "its signature (GET /deliveries/{id} only)"},
                     "attempts": {"type": "array", "items": _ref("Attempt"),
                                  "description": "Oldest first (GET /deliveries/{id} only)"}}},
    "Attempt": {"type": "object", "properties": {
        "number": {"type": "integer"}, "at": {"type": "string"},
        "duration_ms": {"type": "integer"},
        "status_code": {**_NULLABLE_INT, "description": "null: no HTTP answer"},
        "response": {"type": "string", "description": "The first 2 KiB of the answer"},
        "error": _NULLABLE_STRING}},
    "ApiKey": {"type": "object", "required": ["id", "prefix", "created_at", "current"],
               "properties": {
                   "id": {"type": "string", "description": "key_…: names the key to revoke"},
                   "prefix": {"type": "string", "description": "The key's first characters"},
                   "created_at": {"type": "string"}, "last_used_at": _NULLABLE_STRING,
                   "revoked_at": _NULLABLE_STRING,
                   "current": {"type": "boolean",
                               "description": "The key that made this request"},
                   "key": {"type": "string", "description": "ck_live_…: the whole key, in "
                           "the answer to POST /keys only; it is stored only as a hash"}}},
    "ApiKeyList": {"type": "object", "required": ["data"],
                   "properties": {"data": {"type": "array", "items": _ref("ApiKey")}}},
    "Rundown": {"type": "object", "required": ["id", "title", "timers", "current",
                                               "auto_advance", "version", "urls"],
                "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"},
                    "timers": {"type": "array", "items": {"type": "string"}},
                    "current": {**_NULLABLE_STRING, "description": "The timer the show is on "
                                "(a new show: its first)"},
                    "next": {**_NULLABLE_STRING, "description": "The one after it"},
                    "auto_advance": {"type": "boolean"}, "version": {"type": "integer"},
                    "completed_at": {**_NULLABLE_STRING, "description": "When the last "
                                     "timer, being current, completed (rundown.completed)"},
                    "webhook_url": _NULLABLE_STRING, "created_at": {"type": "string"},
                    "updated_at": {"type": "string"},
                    "urls": {"type": "object", "properties": {
                        "widget": {"type": "string"}, "stage": {"type": "string"},
                        "control": {"type": "string"}}},
                    "items": {"type": "array", "items": _ref("RundownItem"),
                              "description": "Each timer, planned against actual (not in "
                              "lists)"}}},
    "RundownItem": {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "type": {"type": "string"},
        "state": {"type": "string"},
        "planned": {**_NULLABLE_INT, "description": "Seconds it is set to run"},
        "actual": {**_NULLABLE_INT, "description": "Seconds it ran, once completed"},
        "over_under": {**_NULLABLE_INT, "description": "actual - planned"},
        "started_at": _NULLABLE_STRING, "completed_at": _NULLABLE_STRING,
        "remaining_ms": {"type": "integer"},
        "missing": {"type": "boolean", "description": "The timer was deleted meanwhile"}}},
    "RundownPage": {"type": "object", "required": ["data", "has_more", "next_cursor"],
                    "properties": {"data": {"type": "array", "items": _ref("Rundown")},
                                   "has_more": {"type": "boolean"},
                                   "next_cursor": _NULLABLE_STRING}},
    "DeliveryPage": {"type": "object", "required": ["data", "has_more", "next_cursor"],
                     "properties": {"data": {"type": "array", "items": _ref("Delivery")},
                                    "has_more": {"type": "boolean"},
                                    "next_cursor": _NULLABLE_STRING}},
}

_TIMER = _ref("Timer")
_RUNDOWN = _ref("Rundown")
_RUNDOWN_ID = _param("rundown_id", "path", "The rundown's id (rnd_…)", required=True)
#: Paths served at the root; every other one is under the API's base.
_ROOT_PATHS = ("/healthz", "/readyz")


def _whole(paths: dict[str, Any]) -> dict[str, Any]:
    return {path if path in _ROOT_PATHS else f"/api/v1{path}": item
            for path, item in paths.items()}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Castimer API", "version": __version__,
             "description": "Real-time timers: create, control, embed, and receive webhooks."},
    # One server at the root and paths written whole (/api/v1/…): /healthz and /readyz live
    # outside /api/v1, and generated clients ignore servers given per operation.
    "servers": [{"url": "/"}],
    "security": [{"apiKey": []}, {"dashboardSession": []}],
    "components": {"securitySchemes": {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "ck_live_… API key"},
        "controlToken": {"type": "http", "scheme": "bearer",
                         "description": "ctl_… control token of the timer in the path (after "
                         "#token= in its urls.control), for hardware controllers: only on "
                         "the operations that list it, and only for that timer (404 anywhere "
                         "else); counted against the timer owner's rate limit"},
        "dashboardSession": {"type": "apiKey", "in": "cookie", "name": "castimer_session",
                             "description": "The dashboard's session, from this server's own "
                             "pages only: changes need its Origin and the X-CSRF-Token header"}},
                   "schemas": SCHEMAS},
    "paths": _whole({
        "/timers": {
            "post": _op("Create a timer", _ok("The new timer", _TIMER, "201"),
                        _body(TIMER_FIELDS), codes=(422,)),
            "get": _op("List the account's timers, oldest first",
                       _ok("A page of timers", _ref("TimerPage")), parameters=_page(100),
                       codes=(422,)),
        },
        "/timers/{timer_id}": {
            "parameters": [_TIMER_ID],
            "get": _op("Get a timer with its live remaining time", _ok("The timer", _TIMER),
                       codes=(404,), controllable=True),
            "patch": _op("Change title, webhook settings, or timing fields while idle",
                         _ok("The timer", _TIMER), _body(EDIT_FIELDS), codes=(404, 409, 422)),
            "delete": _op("Delete a timer (its events stay in the log)",
                          _ok("Deleted", status="204"),
                          parameters=[_param("expected_version", "query",
                                             "Delete only at this version", "integer",
                                             minimum=1, maximum=2**63 - 1)],
                          codes=(404, 409, 422)),
        },
        "/timers/{timer_id}/state": {
            "parameters": [_TIMER_ID],
            "patch": _op("Start, pause, resume or reset: by target state or by action",
                         _ok("The timer", _TIMER), _body(STATE_FIELDS), codes=(404, 409, 422),
                         controllable=True),
        },
        "/timers/{timer_id}/adjust": {
            "parameters": [_TIMER_ID],
            "post": _op("Add or remove time", _ok("The timer", _TIMER),
                        _body(ADJUST_FIELDS, ("seconds",)), codes=(404, 409, 422),
                        controllable=True),
        },
        "/timers/{timer_id}/message": {
            "parameters": [_TIMER_ID],
            "put": _op("Show a message to the people on stage on every display of the timer",
                       _ok("The timer", _TIMER), _body(MESSAGE_FIELDS, ("text",)),
                       codes=(404, 409, 422), controllable=True),
            "delete": _op("Take the message down", _ok("The timer", _TIMER), codes=(404,),
                          controllable=True),
        },
        "/timers/{timer_id}/control-token/rotate": {
            "parameters": [_TIMER_ID],
            "post": _op("Replace the control token (urls.control); presenters holding the old "
                        "one are disconnected", _ok("The timer", _TIMER), codes=(404,)),
        },
        "/rundowns": {
            "post": _op("Create a rundown: a show's timers in order",
                        _ok("The new rundown", _RUNDOWN, "201"),
                        _body(rundown_api.RUNDOWN_FIELDS, ("timers",)), codes=(422,)),
            "get": _op("List the account's rundowns, oldest first",
                       _ok("A page of rundowns", _ref("RundownPage")), parameters=_page(100),
                       codes=(422,)),
        },
        "/rundowns/{rundown_id}": {
            "parameters": [_RUNDOWN_ID],
            "get": _op("Get a rundown with each timer's planned and actual time",
                       _ok("The rundown", _RUNDOWN), codes=(404,), controllable=True,
                       what="rundown"),
            "patch": _op("Change title, timers (reorder, add, remove), auto_advance or "
                         "webhook_url", _ok("The rundown", _RUNDOWN),
                         _body(rundown_api.EDIT_FIELDS), codes=(404, 409, 422),
                         what="rundown"),
            "delete": _op("Delete a rundown (its timers stay)", _ok("Deleted", status="204"),
                          parameters=[_param("expected_version", "query",
                                             "Delete only at this version", "integer",
                                             minimum=1, maximum=2**63 - 1)],
                          codes=(404, 409, 422), what="rundown"),
        },
        "/rundowns/{rundown_id}/advance": {
            "parameters": [_RUNDOWN_ID],
            "post": _op("Make the next, the previous or a given timer current and start it",
                        _ok("The rundown", _RUNDOWN),
                        _body(rundown_api.ADVANCE_FIELDS, ("to",)), codes=(404, 409, 422),
                        controllable=True, what="rundown"),
        },
        "/rundowns/{rundown_id}/deliveries": {
            "parameters": [_RUNDOWN_ID],
            "get": _op("The rundown's webhook deliveries, newest first",
                       _ok("A page of deliveries", _ref("DeliveryPage")), parameters=_page(100),
                       codes=(404, 422), what="rundown"),
        },
        "/rundowns/{rundown_id}/control-token/rotate": {
            "parameters": [_RUNDOWN_ID],
            "post": _op("Replace the rundown's control token (urls.control)",
                        _ok("The rundown", _RUNDOWN), codes=(404,), what="rundown"),
        },
        "/events": {
            "get": _op("The account's event log, oldest first",
                       _ok("A page of events", _ref("EventPage")),
                       parameters=[*_page(500), _param("timer_id", "query", "Only this timer "
                                                       "(or rundown: rnd_…)")],
                       codes=(422,)),
        },
        "/timers/{timer_id}/webhooks/test": {
            "parameters": [_TIMER_ID],
            "post": _op("Send a webhook.test delivery to the timer's webhook_url",
                        _ok("The delivery, pending", _ref("Delivery"), "202"),
                        codes=(404, 422)),
        },
        "/timers/{timer_id}/deliveries": {
            "parameters": [_TIMER_ID],
            "get": _op("The timer's webhook deliveries, newest first",
                       _ok("A page of deliveries", _ref("DeliveryPage")), parameters=_page(100),
                       codes=(404, 422)),
        },
        "/deliveries/{delivery_id}": {
            "parameters": [_DELIVERY_ID],
            "get": _op("A delivery with its payload and every attempt",
                       _ok("The delivery", _ref("Delivery")), codes=(404,)),
        },
        "/deliveries/{delivery_id}/retry": {
            "parameters": [_DELIVERY_ID],
            "post": _op("Send a finished delivery again, with the whole retry schedule",
                        _ok("The delivery, pending", _ref("Delivery"), "202"),
                        codes=(404, 409)),
        },
        "/account": {"get": _op("The account: plan, limits, usage, webhook signing secret",
                                _ok("The account", _ref("Account")))},
        "/account/webhook-secret/rotate": {
            "post": _op("A new webhook signing secret; the old one signs beside it for 24 h",
                        _ok("The new secret", _ref("WebhookSecret"))),
        },
        "/keys": {
            "get": _op("The account's API keys by prefix, with last use, revoked ones too",
                       _ok("The keys", _ref("ApiKeyList"))),
            "post": _op("A new API key for the account, shown in this answer only",
                        _ok("The key, whole", _ref("ApiKey"), "201")),
        },
        "/keys/{key_id}": {
            "parameters": [_param("key_id", "path", "The key's id (key_…)", required=True)],
            "delete": _op("Revoke a key: requests and dashboard sessions with it get 401 at "
                          "once", _ok("The key, revoked", _ref("ApiKey")), codes=(404,)),
        },
        "/healthz": {"get": {"summary": "Liveness: the process answers", "security": [],
                             "responses": _ok("Alive", {"type": "object"})}},
        "/readyz": {"get": {"summary": "Readiness: the timer store answers", "security": [],
                            "responses": {**_ok("Ready", {"type": "object"}),
                                          "503": {"description": "The store is unreachable"}}}},
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": _ok("OpenAPI 3.1 document",
                                                   {"type": "object"})}},
    }),
}


async def endpoint(request: Request) -> Response:
    return json_response(DOCUMENT)
