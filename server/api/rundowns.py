"""Rundown endpoints: a show's timers in order (DESIGN §11): create, list, get, edit, delete,
advance, and the control token's rotation."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import commit, rundowns, timers
from ..clock import now_ms
from ..rundowns import Rundown
from . import schema
from .auth import authenticated, controllable
from .errors import bad_request
from .responses import json_response
from .timers import _webhook, base_url

RUNDOWN_FIELDS: schema.Spec = {"title": "string?", "timers": "strings",
                               "auto_advance": "boolean", "webhook_url": "string?"}
EDIT_FIELDS: schema.Spec = {**RUNDOWN_FIELDS, "expected_version": "integer"}
ADVANCE_FIELDS: schema.Spec = {"to": "string", "from": "string", "expected_version": "integer"}


def urls(r: Rundown, base: str) -> dict[str, str]:
    return {"widget": f"{base}/widget?rundown={quote(r.id)}",
            "stage": f"{base}/stage/{quote(r.id)}",
            # The token rides in the fragment: browsers never send it, so no log sees it.
            "control": f"{base}/control/{quote(r.id)}#token={r.control_token}"}


def owner(r: Rundown, base: str) -> dict[str, Any]:
    out = commit.public_rundown(r)
    out.update(webhook_url=r.webhook_url, created_at=timers.iso(r.created_at_ms),
               updated_at=timers.iso(r.updated_at_ms), urls=urls(r, base))
    return out


def item(t: timers.Timer | None, timer_id: str, now: int) -> dict[str, Any]:
    """One timer of the show as its presenter sees it: planned against actual time. Not its
    control token: the show's presenter runs the timers with the rundown's own token
    (/ws/control/{timer} takes it for a timer in the show), which a rotation takes back."""
    if t is None:
        return {"id": timer_id, "missing": True}
    p = timers.progress(t, now)
    planned_ms = timers.planned_ms(t)
    planned = None if planned_ms is None else planned_ms // 1000
    # What it really ran, pauses left out and time added or removed included: the over/under
    # a show's producer reads afterwards.
    actual = None
    if t.started_at_ms is not None and t.state == timers.State.COMPLETED:
        actual = round(t.elapsed_ms / 1000)
    return {"id": t.id, "title": t.title, "type": t.type, "state": str(t.state),
            "planned": planned, "actual": actual,
            "over_under": None if actual is None or planned is None else actual - planned,
            "started_at": timers.iso(t.started_at_ms),
            "completed_at": timers.iso(t.completed_at_ms), "remaining_ms": p.remaining_ms}


async def _with_items(request: Request, r: Rundown) -> dict[str, Any]:
    out = owner(r, base_url(request))
    if getattr(request.state, "by_control_token", False):
        del out["webhook_url"]  # a webhook URL may be a secret of its own
    found = await asyncio.gather(*(request.state.engine.get_timer(t) for t in r.timers))
    now = now_ms()
    out["items"] = [item(timers.load(raw) if raw is not None else None, timer_id, now)
                    for timer_id, raw in zip(r.timers, found, strict=True)]
    return out


@authenticated
async def create_rundown(request: Request) -> Response:
    fields = _webhook(await schema.body(request, RUNDOWN_FIELDS, required=("timers",),
                                        example='{"title": "Keynote", "timers": ["tmr_…"], '
                                                '"auto_advance": true}'))
    r = await commit.create_rundown(request.state.engine, request.state.account.id, fields)
    return json_response(await _with_items(request, r), 201)


@authenticated
async def list_rundowns(request: Request) -> Response:
    limit = schema.query_int(request, "limit", 20, 1, 100)
    cursor = schema.decode_cursor(request)
    try:
        page, following = await request.state.engine.list_rundowns(
            request.state.account.id, cursor, limit)
    except ValueError as exc:
        raise bad_request(str(exc), "cursor") from None
    base = base_url(request)
    return json_response({"data": [owner(rundowns.load(raw), base) for raw in page],
                          "has_more": following is not None,
                          "next_cursor": schema.encode_cursor(following)})


@controllable("rundown_id")
async def get_rundown(request: Request) -> Response:
    r = await commit.load_rundown(request.state.engine, request.path_params["rundown_id"],
                                  request.state.account.id)
    return json_response(await _with_items(request, r))


@authenticated
async def edit_rundown(request: Request) -> Response:
    fields = _webhook(await schema.body(request, EDIT_FIELDS))
    expected = fields.pop("expected_version", None)
    if not fields:
        raise bad_request("send at least one field to change: " +
                          ", ".join(k for k in EDIT_FIELDS if k != "expected_version"))
    r = await commit.edit_rundown(request.state.engine, request.state.account.id,
                                  request.path_params["rundown_id"], fields,
                                  expected_version=expected)
    return json_response(await _with_items(request, r))


@authenticated
async def delete_rundown(request: Request) -> Response:
    expected = None
    if "expected_version" in request.query_params:
        expected = schema.query_int(request, "expected_version", 0,
                                    *schema.RANGES["expected_version"])
    await commit.delete_rundown(request.state.engine, request.state.account.id,
                                request.path_params["rundown_id"], expected_version=expected)
    return Response(status_code=204)


@controllable("rundown_id")
async def advance_rundown(request: Request) -> Response:
    fields = await schema.body(request, ADVANCE_FIELDS, required=("to",),
                               example='{"to": "next"}')
    r = await commit.advance_rundown(request.state.engine, request.state.account.id,
                                     request.path_params["rundown_id"], fields["to"],
                                     expected_version=fields.get("expected_version"),
                                     leaving=fields.get("from"))
    return json_response(await _with_items(request, r))


@authenticated
async def rotate_control_token(request: Request) -> Response:
    r = await commit.rotate_rundown_token(request.state.engine, request.state.account.id,
                                          request.path_params["rundown_id"])
    return json_response(await _with_items(request, r))


routes = [
    Route("/rundowns", create_rundown, methods=["POST"]),
    Route("/rundowns", list_rundowns, methods=["GET"]),
    Route("/rundowns/{rundown_id}", get_rundown, methods=["GET"]),
    Route("/rundowns/{rundown_id}", edit_rundown, methods=["PATCH"]),
    Route("/rundowns/{rundown_id}", delete_rundown, methods=["DELETE"]),
    Route("/rundowns/{rundown_id}/advance", advance_rundown, methods=["POST"]),
    Route("/rundowns/{rundown_id}/control-token/rotate", rotate_control_token,
          methods=["POST"]),
]
