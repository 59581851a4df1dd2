"""Webhook endpoints: send a test, the delivery log with its attempts, and redelivery. (The
account's signing secret and its rotation are in `account.py`.)"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import commit, ids, rundowns, timers
from ..clock import now_ms
from ..commit import RundownNotFound, TimerNotFound
from ..engines.base import PENDING, Attempt, Delivery, DeliveryRecord
from . import schema
from .auth import authenticated
from .errors import ApiError, bad_request, invalid
from .responses import json_response


def delivery_json(d: Delivery, attempts: list[Attempt] | None = None) -> dict[str, Any]:
    payload = orjson.loads(d.body)
    # A rundown's deliveries are queued under its id, as a timer's under the timer's.
    owner = "rundown_id" if d.timer_id.startswith("rnd_") else "timer_id"
    out: dict[str, Any] = {
        "id": d.id, owner: d.timer_id, "event_id": d.event_id,
        "event": payload.get("event"), "url": d.url, "status": d.status,
        "attempt_count": d.attempts, "created_at": timers.iso(d.created_at_ms),
        "next_attempt_at": timers.iso(d.due_ms) if d.status == PENDING else None}
    if attempts is not None:
        out["payload"] = payload
        out["attempts"] = [{"number": a.number, "at": timers.iso(a.at_ms),
                            "duration_ms": a.duration_ms, "status_code": a.status_code,
                            "response": a.response, "error": a.error} for a in attempts]
    return out


def _not_found(delivery_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no delivery {delivery_id!r} in this account", "id")


async def _own_delivery(request: Request) -> tuple[Delivery, list[Attempt]]:
    delivery_id = request.path_params["delivery_id"]
    found = await request.state.engine.get_delivery(delivery_id)
    if found is None or found[0].account_id != request.state.account.id:
        raise _not_found(delivery_id)
    return found  # type: ignore[no-any-return]


@authenticated
async def send_test(request: Request) -> Response:
    """A `webhook.test` delivery to the timer's webhook URL, through the outbox like any other."""
    await schema.body(request, {})
    engine, account_id = request.state.engine, request.state.account.id
    timer = await commit.load(engine, request.path_params["timer_id"], account_id)
    if not timer.webhook_url:
        raise invalid("the timer has no webhook_url; set one with PATCH "
                      "/api/v1/timers/{id} first", "webhook_url")
    now, event_id = now_ms(), ids.event_id()
    progress = timers.progress(timer, now)
    body = commit.event_body(timers.WEBHOOK_TEST, event_id, now, timer, {
        "state": str(timer.state), "remaining": timers.seconds(progress.remaining_ms),
        "test": True})
    delivery = DeliveryRecord(ids.delivery_id(timer.id), account_id, timer.id, event_id,
                              timer.webhook_url, body, now)
    await engine.add_deliveries([delivery], now)
    return json_response(delivery_json(Delivery(
        delivery.id, account_id, timer.id, event_id, delivery.url, body, PENDING, now, now)),
        202)


@authenticated
async def list_deliveries(request: Request) -> Response:
    """A timer's deliveries, newest first (also after the timer was deleted). A timer of
    another account is 404 like on every timer route, and so is one this account never had."""
    timer_id = request.path_params["timer_id"]
    raw = await request.state.engine.get_timer(timer_id)
    owner = timers.load(raw).account_id if raw is not None else None
    return await _deliveries_of(request, timer_id, owner, TimerNotFound(timer_id))


@authenticated
async def list_rundown_deliveries(request: Request) -> Response:
    """A rundown's deliveries (its advances and completions), as a timer's."""
    rundown_id = request.path_params["rundown_id"]
    raw = await request.state.engine.get_rundown(rundown_id)
    owner = rundowns.load(raw).account_id if raw is not None else None
    return await _deliveries_of(request, rundown_id, owner, RundownNotFound(rundown_id))


async def _deliveries_of(request: Request, object_id: str, owner: str | None,
                         missing: Exception) -> Response:
    limit = schema.query_int(request, "limit", 20, 1, 100)
    cursor = schema.decode_cursor(request)
    engine, account_id = request.state.engine, request.state.account.id
    if owner is not None and owner != account_id:
        raise missing
    try:
        page, following = await engine.list_deliveries(account_id, object_id, cursor, limit)
    except ValueError as exc:
        raise bad_request(str(exc), "cursor") from None
    if owner is None and not page and cursor is None:
        raise missing
    return json_response({"data": [delivery_json(d) for d in page],
                          "has_more": following is not None,
                          "next_cursor": schema.encode_cursor(following)})


@authenticated
async def get_delivery(request: Request) -> Response:
    delivery, attempts = await _own_delivery(request)
    return json_response(delivery_json(delivery, attempts))


@authenticated
async def retry_delivery(request: Request) -> Response:
    """Send a finished delivery again, with the whole retry schedule ahead of it."""
    await schema.body(request, {})
    delivery, _ = await _own_delivery(request)
    if delivery.status == PENDING:
        raise ApiError(409, "delivery_pending", f"delivery {delivery.id!r} is pending already; "
                       f"its next attempt is at {timers.iso(delivery.due_ms)}", "id")
    retried = await request.state.engine.retry_delivery(delivery.id, now_ms())
    if retried is None:
        raise _not_found(delivery.id)
    return json_response(delivery_json(retried), 202)


routes = [
    Route("/timers/{timer_id}/webhooks/test", send_test, methods=["POST"]),
    Route("/timers/{timer_id}/deliveries", list_deliveries, methods=["GET"]),
    Route("/rundowns/{rundown_id}/deliveries", list_rundown_deliveries, methods=["GET"]),
    Route("/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/deliveries/{delivery_id}/retry", retry_delivery, methods=["POST"]),
]
