"""API key endpoints: list the account's keys by prefix, make one (shown once), revoke one."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import accounts, timers
from ..clock import now_ms
from ..engines.base import ApiKey
from . import schema
from .auth import authenticated
from .errors import ApiError
from .responses import json_response


def key_json(key: ApiKey, current: ApiKey) -> dict[str, Any]:
    """A key as lists show it: its prefix, never the key or its digest."""
    return {"id": key.id, "prefix": key.prefix, "created_at": timers.iso(key.created_at_ms),
            "last_used_at": timers.iso(key.last_used_ms),
            "revoked_at": timers.iso(key.revoked_at_ms), "current": key.id == current.id}


@authenticated
async def list_keys(request: Request) -> Response:
    """The account's keys, oldest first, revoked ones too."""
    found = await request.state.engine.list_api_keys(request.state.account.id)
    return json_response({"data": [key_json(k, request.state.api_key) for k in found]})


@authenticated
async def create_key(request: Request) -> Response:
    """A new key for the account; the answer is the only place it is ever shown."""
    await schema.body(request, {})
    key, record = await accounts.add_key_to(request.state.engine, request.state.account,
                                            now_ms())
    return json_response({**key_json(record, request.state.api_key), "key": key}, 201)


@authenticated
async def revoke_key(request: Request) -> Response:
    """Revoke a key of the account: it and the dashboard sessions signed in with it stop
    working at once, the calling key included."""
    engine, key_id = request.state.engine, request.path_params["key_id"]
    own = {k.id: k for k in await engine.list_api_keys(request.state.account.id)}
    if key_id not in own:
        raise ApiError(404, "not_found", f"no API key {key_id!r} in this account", "id")
    now = now_ms()
    await engine.revoke_api_key(key_id, now)
    key = own[key_id]
    if key.revoked_at_ms is None:
        key = dataclasses.replace(key, revoked_at_ms=now)
    return json_response(key_json(key, request.state.api_key))


routes = [
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
