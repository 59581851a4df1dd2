"""Errors as the API shows them, made in one place:
`{"error": {"type": …, "message": …, "param": …}}` with the status that fits."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

from .. import sessions, timers
from ..accounts import AuthError, ControlTokenRefused
from ..commit import RundownNotFound, ShowMovedOn, TimerNotFound
from ..engines.base import EngineUnavailable, VersionConflict
from .responses import json_response

log = logging.getLogger("castimer.api")


#: Every API answer: some carry secrets (keys at creation, the signing secret, control tokens)
#: and may now answer a browser's cookie, which shared caches do not treat as private.
NO_STORE = {"Cache-Control": "no-store"}


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, param: str | None = None,
                 **extra: object) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.param = status, type_, message, param
        self.extra = extra


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param)


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(422, "validation_error", message, param)


def as_api_error(exc: Exception) -> ApiError | None:
    """The API's view of an exception a user can cause; None for a bug."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, timers.TimerError):
        return invalid(exc.message, exc.param)
    if isinstance(exc, TimerNotFound):
        return ApiError(404, "not_found", f"no timer {exc.timer_id!r} in this account", "id")
    if isinstance(exc, ShowMovedOn):
        return ApiError(409, "show_moved_on", str(exc), "from", current=exc.current)
    if isinstance(exc, RundownNotFound):
        return ApiError(404, "not_found", f"no rundown {exc.rundown_id!r} in this account", "id")
    if isinstance(exc, VersionConflict):
        what = "rundown" if (exc.object_id or "").startswith("rnd_") else "timer"
        return ApiError(409, "version_conflict",
                        f"expected_version does not match: the {what} is at version "
                        f"{exc.current}; reload it and try again", "expected_version",
                        current_version=exc.current)
    if isinstance(exc, ControlTokenRefused):
        return ApiError(404, "not_found", str(exc), exc.param)
    if isinstance(exc, AuthError):
        return ApiError(401, "authentication_error", str(exc))
    if isinstance(exc, sessions.CrossSite):
        return ApiError(403, "forbidden", str(exc))
    if isinstance(exc, EngineUnavailable):
        return ApiError(503, "service_unavailable",
                        "the timer store is unreachable right now; retry shortly (send "
                        "expected_version to make a retried change safe)")
    return None


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    body = {"type": error.type, "message": error.message, "param": error.param, **error.extra}
    return json_response({"error": body}, error.status, {**NO_STORE, **(headers or {})})


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path: Starlette's 405 names only the first
    route that matched, and each of ours serves one method."""
    methods: set[str] = set()

    def walk(routes: list[BaseRoute], scope: Scope) -> None:
        for route in routes:
            match, child = route.matches(scope)
            if match == Match.NONE:
                continue
            if isinstance(route, Mount) and route.routes:
                walk(route.routes, {**scope, **child})
            elif isinstance(route, Mount):
                methods.update(("GET", "HEAD"))  # a mounted app: static files
            elif isinstance(route, Route):
                methods.update(route.methods or ())

    # From the top: the mounts the request went through have already moved root_path on.
    walk(request.app.routes, {**request.scope,
                              "root_path": request.scope.get("app_root_path", "")})
    return ", ".join(sorted(methods))


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
    kinds = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    message = {404: f"no such endpoint: {request.method} {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(
        exc.status_code, str(exc.detail))
    return error_response(ApiError(exc.status_code, kinds.get(exc.status_code, "http_error"),
                                   message), dict(exc.headers or {}))


async def on_client_gone(request: Request, exc: Exception) -> Response:
    """An upload the client abandoned (it closed the connection mid-body): no server error, and
    nobody is left to read an answer."""
    assert isinstance(exc, ClientDisconnect)
    log.debug("client left during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def on_exception(request: Request, exc: Exception) -> Response:
    error = as_api_error(exc)
    if error is None:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = ApiError(500, "internal_error", "internal error; it has been logged")
    return error_response(error)
