"""The baseline for bench/api.py: a bare Starlette app answering the same routes with a
pre-serialised timer-sized JSON body, no auth, no store. Served by uvicorn with the same settings
as `castimer serve`."""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = orjson.dumps({
    "id": "tmr_0000000000000000000000", "type": "countdown", "title": "Bench", "state": "running",
    "duration": 3600, "adjustment": 0, "remaining_ms": 3599000, "elapsed_ms": 1000,
    "total_ms": 3600000, "round": None, "phase": None, "version": 2,
    "created_at": "2026-11-26T12:00:00.000Z", "updated_at": "2026-11-26T12:00:00.000Z",
    "started_at": "2026-11-26T12:00:00.000Z", "paused_at": None, "completed_at": None,
    "server_time": 1795700000000, "webhook_url": None, "webhook_events": None,
    "urls": {"widget": "http://127.0.0.1/widget?timer=tmr_0000000000000000000000",
             "embed": "<iframe …></iframe>", "control": "http://127.0.0.1/control/tmr_0#token"}})


async def timer(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


async def state(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/api/v1/timers/{timer_id}", timer, methods=["GET"]),
                        Route("/api/v1/timers/{timer_id}/state", state, methods=["PATCH"])])
