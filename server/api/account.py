"""The account: its plan and usage, its webhook signing secret and the secret's rotation, and
its event log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import accounts, ids, timers
from ..clock import now_ms
from ..engines.base import Account
from . import schema
from .auth import authenticated
from .errors import ApiError, bad_request
from .responses import json_response

#: How long a rotated-out secret still signs, beside the new one.
SECRET_OVERLAP_MS = 24 * 3600 * 1000


def secret_json(account: Account, now: int) -> dict[str, Any]:
    """The signing secret, and while a rotation's overlap lasts, when the old one stops."""
    overlap = account.previous_secret_expires_ms
    return {"webhook_secret": account.webhook_secret,
            "previous_webhook_secret_expires_at":
                timers.iso(overlap) if overlap and overlap > now else None}


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
        **secret_json(account, now_ms()),
    })


@authenticated
async def rotate_secret(request: Request) -> Response:
    """A new signing secret; the old one goes on signing beside it for 24 hours."""
    await schema.body(request, {})
    account = await request.state.engine.rotate_webhook_secret(
        request.state.account.id, ids.webhook_secret(), now_ms(), SECRET_OVERLAP_MS)
    if account is None:
        raise ApiError(401, "authentication_error", "this API key's account no longer exists")
    return json_response(secret_json(account, now_ms()))


routes = [
    Route("/events", list_events, methods=["GET"]),
    Route("/account", get_account, methods=["GET"]),
    Route("/account/webhook-secret/rotate", rotate_secret, methods=["POST"]),
]
