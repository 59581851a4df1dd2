"""The account and its event log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import accounts, timers
from ..clock import now_ms
from . import schema, webhooks
from .auth import authenticated
from .errors import bad_request
from .responses import json_response


@authenticated
async def list_events(request: Request) -> Response:
    """The account's events, oldest first; `timer_id` narrows to one timer."""
    limit = schema.query_int(request, "limit", 50, 1, 500)
    cursor = schema.decode_cursor(request)
    try:
        page, following = await request.state.engine.list_events(
            request.state.account.id, cursor, limit, request.query_params.get("timer_id"))
    except ValueError as exc:
        raise bad_request(str(exc), "cursor") from None
    # Event bodies are stored as the JSON the API returns: splice them without re-encoding.
    data = b",".join(record.body for record in page)
    next_cursor = schema.encode_cursor(following)
    tail = b'"' + next_cursor.encode() + b'"' if next_cursor else b"null"
    content = (b'{"data":[' + data + b'],"has_more":' + (b"true" if following else b"false")
               + b',"next_cursor":' + tail + b"}")
    return Response(content, media_type="application/json")


@authenticated
async def get_account(request: Request) -> Response:
    account, status = request.state.account, request.state.rate
    rate = accounts.PLANS[account.plan]
    return json_response({
        "id": account.id, "name": account.name, "plan": account.plan,
        "created_at": timers.iso(account.created_at_ms),
        "limits": {"requests_per_minute": rate.per_minute, "requests_per_day": rate.per_day},
        "usage": {"requests_today": status.used_today},
        **webhooks.secret_json(account, now_ms()),
    })


routes = [
    Route("/events", list_events, methods=["GET"]),
    Route("/account", get_account, methods=["GET"]),
]
