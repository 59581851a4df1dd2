"""Timer endpoints: create, list, get, edit, change state, adjust, message, delete. Getting a
timer, changing its state, adjusting it and its message take its control token too."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import commit, settings, timer_json
from ..clock import now_ms
from ..timers import Timer
from ..webhooks.urls import check_url
from . import schema
from .auth import authenticated, controllable
from .errors import bad_request, invalid
from .responses import json_response

TIMER_FIELDS: schema.Spec = {
    "title": "string?", "type": "string", "duration": "integer", "target_date": "string",
    "timezone": "string", "work": "integer", "rest": "integer", "rounds": "integer",
    "webhook_url": "string?", "webhook_events": "strings?", "overtime": "boolean",
    "warn_at": "integer?", "danger_at": "integer?", "blackout": "boolean",
    "start_at": "string?",
}
EDIT_FIELDS: schema.Spec = {**{k: v for k, v in TIMER_FIELDS.items() if k != "type"},
                            "expected_version": "integer"}
STATE_FIELDS: schema.Spec = {"state": "string", "action": "string",
                             "expected_version": "integer"}
ADJUST_FIELDS: schema.Spec = {"seconds": "integer", "expected_version": "integer"}
MESSAGE_FIELDS: schema.Spec = {"text": "string", "flash": "boolean",
                               "expected_version": "integer"}
#: The actions PATCH /timers/{id}/state takes (adjust has its own endpoint).
ACTIONS = ("start", "pause", "resume", "reset", "stop")


def base_url(request: Request) -> str:
    return settings.PUBLIC_URL or f"{request.url.scheme}://{request.url.netloc}"


def _webhook(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("webhook_url"):
        check_url(fields["webhook_url"], settings.ALLOW_PRIVATE_WEBHOOKS)
    return fields


def _show(request: Request, timer: Timer | timer_json.Stored, status: int = 200) -> Response:
    # The viewers were counted on the request's way in, in the same round trip as its key.
    shown = timer if isinstance(timer, timer_json.Stored) else timer_json.Stored(timer)
    view = shown.presenter if request.state.by_control_token else shown.owner
    return json_response(view(now_ms(), base_url(request), request.state.viewers), status)


@authenticated
async def create_timer(request: Request) -> Response:
    fields = _webhook(await schema.body(request, TIMER_FIELDS,
                                        example='{"type": "countdown", "duration": 60}'))
    timer = await commit.create(request.state.engine, request.state.account.id, fields)
    return json_response(timer_json.owner(timer, now_ms(), base_url(request)), 201)


@authenticated
async def list_timers(request: Request) -> Response:
    limit = schema.query_int(request, "limit", 20, 1, 100)
    cursor = schema.decode_cursor(request)
    try:
        page, following = await request.state.engine.list_timers(
            request.state.account.id, cursor, limit)
    except ValueError as exc:
        raise bad_request(str(exc), "cursor") from None
    now, base = now_ms(), base_url(request)
    listed = [timer_json.stored(raw) for raw in page]
    viewers = await request.state.engine.count_viewers([s.timer.id for s in listed], now)
    data = [s.owner(now, base, n) for s, n in zip(listed, viewers, strict=True)]
    return json_response({"data": data, "has_more": following is not None,
                          "next_cursor": schema.encode_cursor(following)})


@controllable("timer_id")
async def get_timer(request: Request) -> Response:
    # `commit.load` of the body read on the way in, through `timer_json.stored`: a timer
    # unchanged since the last GET is shown from the parts of its views kept for its body.
    raw = request.state.fetched.body
    shown = timer_json.stored(raw) if raw is not None else None
    if shown is None or shown.timer.account_id != request.state.account.id:
        raise commit.TimerNotFound(request.path_params["timer_id"])
    return _show(request, shown)


@authenticated
async def edit_timer(request: Request) -> Response:
    fields = _webhook(await schema.body(request, EDIT_FIELDS))
    expected = fields.pop("expected_version", None)
    if not fields:
        raise bad_request("send at least one field to change: " +
                          ", ".join(k for k in EDIT_FIELDS if k != "expected_version"))
    timer = await commit.edit(request.state.engine, request.state.account.id,
                              request.path_params["timer_id"], fields,
                              expected_version=expected)
    return _show(request, timer)


@controllable("timer_id", writes=True)
async def change_state(request: Request) -> Response:
    fields = await schema.body(request, STATE_FIELDS, example='{"action": "start"}')
    if ("state" in fields) == ("action" in fields):
        raise bad_request('send either "state" (running, paused, idle, completed) or "action" '
                          f"({', '.join(ACTIONS)})", "state")
    engine, account_id = request.state.engine, request.state.account_id
    timer_id, expected = request.path_params["timer_id"], fields.get("expected_version")
    if "state" in fields:
        timer = await commit.set_state(engine, account_id, timer_id, fields["state"],
                                       expected_version=expected,
                                       fetched=request.state.fetched)
    else:
        if fields["action"] not in ACTIONS:
            raise invalid(f"action must be one of {', '.join(ACTIONS)} (adjust is "
                          "POST /api/v1/timers/{id}/adjust with seconds); got "
                          f"{fields['action']!r}", "action")
        timer = await commit.command(engine, account_id, timer_id, fields["action"],
                                     expected_version=expected, fetched=request.state.fetched)
    return _show(request, timer)


@controllable("timer_id", writes=True)
async def adjust_timer(request: Request) -> Response:
    fields = await schema.body(request, ADJUST_FIELDS, required=("seconds",))
    timer = await commit.command(request.state.engine, request.state.account_id,
                                 request.path_params["timer_id"], "adjust",
                                 seconds=fields["seconds"],
                                 expected_version=fields.get("expected_version"),
                                 fetched=request.state.fetched)
    return _show(request, timer)


@controllable("timer_id", writes=True)
async def put_message(request: Request) -> Response:
    """A message for the people on stage: every display of the timer shows it."""
    fields = await schema.body(request, MESSAGE_FIELDS, required=("text",))
    timer = await commit.set_message(request.state.engine, request.state.account_id,
                                     request.path_params["timer_id"], fields["text"],
                                     fields.get("flash", False),
                                     expected_version=fields.get("expected_version"),
                                     fetched=request.state.fetched)
    return _show(request, timer)


@controllable("timer_id", writes=True)
async def delete_message(request: Request) -> Response:
    await schema.body(request, {})
    timer = await commit.clear_message(request.state.engine, request.state.account_id,
                                       request.path_params["timer_id"],
                                       fetched=request.state.fetched)
    return _show(request, timer)


@authenticated
async def rotate_control_token(request: Request) -> Response:
    timer = await commit.rotate_control_token(request.state.engine, request.state.account.id,
                                              request.path_params["timer_id"])
    return _show(request, timer)


@authenticated
async def delete_timer(request: Request) -> Response:
    expected = None
    if "expected_version" in request.query_params:
        expected = schema.query_int(request, "expected_version", 0,
                                    *schema.RANGES["expected_version"])
    await commit.delete(request.state.engine, request.state.account.id,
                        request.path_params["timer_id"], expected_version=expected)
    return Response(status_code=204)


routes = [
    Route("/timers", create_timer, methods=["POST"]),
    Route("/timers", list_timers, methods=["GET"]),
    Route("/timers/{timer_id}", get_timer, methods=["GET"]),
    Route("/timers/{timer_id}", edit_timer, methods=["PATCH"]),
    Route("/timers/{timer_id}", delete_timer, methods=["DELETE"]),
    Route("/timers/{timer_id}/state", change_state, methods=["PATCH"]),
    Route("/timers/{timer_id}/adjust", adjust_timer, methods=["POST"]),
    Route("/timers/{timer_id}/control-token/rotate", rotate_control_token, methods=["POST"]),
    Route("/timers/{timer_id}/message", put_message, methods=["PUT"]),
    Route("/timers/{timer_id}/message", delete_message, methods=["DELETE"]),
]
