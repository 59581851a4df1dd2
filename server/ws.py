"""Websocket endpoints: `/ws/timers/{id}` for viewers, `/ws/control/{id}` for presenters.

Viewers need only the unguessable timer id. Presenters also send a control token (or an API key
of the timer's account) in their first message — never in the URL, where logs would keep it —
and, from a browser, must come from this server's own Origin. Both get the same stream (snapshot,
ticks, state); presenters may also send commands, which go through the one commit path.
Close codes are listed in docs/websockets.md.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from . import accounts, asgi_socket, commit, metrics, rundowns, settings, timers
from .accounts import AuthError
from .clock import now_ms
from .engines.base import EngineUnavailable, Store, VersionConflict
from .hub import Hub, Room, Viewer, snapshot_message

CLOSE_UNSUPPORTED = 1003  # binary frames
CLOSE_INVALID = 1007  # not a JSON object
CLOSE_POLICY = 1008  # too many messages, too many connections
CLOSE_TOO_BIG = 1009
CLOSE_UNAVAILABLE = 1011  # the store is unreachable
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_AUTH_TIMEOUT = 4408


class Close(Exception):
    """End the session with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class _Bucket:
    """Inbound message budget: `rate` per second on average, `burst` at once."""

    __slots__ = ("burst", "level", "rate", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.level, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level < 1:
            return False
        self.level -= 1
        return True


def _origin_allowed(websocket: WebSocket) -> bool:
    """Browsers always send Origin on websockets; scripts and devices usually send none, and
    cannot be tricked into carrying someone's session, so a missing Origin is allowed."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc.lower()
    allowed = {websocket.headers.get("host", "").lower()}
    if settings.PUBLIC_URL:
        allowed.add(urlsplit(settings.PUBLIC_URL).netloc.lower())
    return bool(netloc) and netloc in allowed


def _token_matches(token: str, timer: timers.Timer) -> bool:
    return bool(timer.control_token) and hmac.compare_digest(token.encode(),
                                                             timer.control_token.encode())


class _Endpoint:
    """A websocket route's ASGI app, in place of the `websocket_session` wrapper Starlette puts
    around a function endpoint. That wrapper holds, for the life of every socket, two closures,
    three coroutine frames and a second exception-handling layer (~2 KB a connection,
    docs/performance.md) that repeats the ExceptionMiddleware around every route, with the
    same handlers."""

    def __init__(self, name: str, presenter: bool) -> None:
        self.__name__ = name  # the route's name, as Starlette takes it from a function's
        self.presenter = presenter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _session(WebSocket(scope, receive=receive, send=send), self.presenter)


viewer = _Endpoint("viewer", presenter=False)
control = _Endpoint("control", presenter=True)


async def _session(websocket: WebSocket, presenter: bool) -> None:
    hub: Hub = websocket.state.hub
    ip = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    if presenter and not _origin_allowed(websocket):
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "this Origin may not control timers")
        return
    if hub.connections_by_ip[ip] >= settings.WS_MAX_CONNECTIONS_PER_IP:
        await websocket.close(CLOSE_POLICY, "too many connections from this address")
        return
    hub.connections_by_ip[ip] += 1
    sockets = metrics.PRESENTERS if presenter else metrics.VIEWERS
    sockets.inc()
    try:
        await _serve(websocket, hub, presenter)
    except Close as close:
        await _close_quietly(websocket, close.code, close.reason)
    except EngineUnavailable:
        await _close_quietly(websocket, CLOSE_UNAVAILABLE, "the timer store is unreachable; "
                                                           "reconnect shortly")
    finally:
        sockets.dec()
        hub.connections_by_ip[ip] -= 1
        if hub.connections_by_ip[ip] <= 0:
            del hub.connections_by_ip[ip]


async def _close_quietly(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code, reason)
    except (OSError, RuntimeError):
        pass  # already gone


async def _serve(websocket: WebSocket, hub: Hub, presenter: bool) -> None:
    timer_id = websocket.path_params["timer_id"]
    credential = await _authenticate(websocket, hub, timer_id) if presenter else None
    viewer = Viewer(*asgi_socket.socket_of(websocket.scope, websocket.send))
    # Presenters are not the timer's viewers, nor is a socket that asks not to be counted
    # (the dashboard's, with ?count=0).
    viewer.presenter = presenter or websocket.query_params.get("count") == "0"
    if credential and credential.startswith("ctl_"):
        viewer.token_digest = timers.control_digest(credential)
    room = await hub.join(timer_id, viewer)
    if room is None or room.timer is None:
        raise Close(CLOSE_NOT_FOUND, "no such timer")
    if viewer.token_digest is not None and not hmac.compare_digest(viewer.token_digest,
                                                                   room.control):
        await hub.leave(timer_id, viewer)  # rotated between authentication and joining
        raise Close(CLOSE_UNAUTHORIZED, "the control token was rotated")
    try:
        viewer.reply(orjson.dumps(snapshot_message(room.timer, now_ms())).decode())
        if room.presence is not None:
            # The count is told when it changes; one who joins a room already counted (a
            # presenter is not counted, so changes nothing) hears it now.
            viewer.reply(orjson.dumps({"type": "presence", "viewers": room.presence}).decode())
        await _read(websocket, hub, room, viewer, credential)
    except Close as close:
        viewer.close(close.code, close.reason)
    finally:
        await hub.leave(timer_id, viewer)
        # Let what is queued and the close frame go out, but not forever.
        await viewer.drained(patience=2.0)


async def _receive_json(websocket: WebSocket, bucket: _Bucket | None) -> dict[str, Any] | None:
    """The next inbound message as a JSON object; None when the client has gone."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        raise Close(CLOSE_UNSUPPORTED, "send JSON text frames, not binary")
    if len(text) > settings.WS_MAX_MESSAGE and len(text.encode()) > settings.WS_MAX_MESSAGE:
        raise Close(CLOSE_TOO_BIG, f"frames must be at most {settings.WS_MAX_MESSAGE} bytes")
    if bucket is not None and not bucket.take():
        raise Close(CLOSE_POLICY, f"too many messages: at most "
                                  f"{settings.WS_MESSAGES_PER_SECOND:g} per second")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Close(CLOSE_INVALID, "frames must be JSON objects") from None
    if not isinstance(data, dict):
        raise Close(CLOSE_INVALID, "frames must be JSON objects")
    return data


async def _show_runs(engine: Store, credential: str, timer_id: str) -> bool:
    """Whether `credential` ("rnd_…#ctl_…": a rundown and its control token) is the rundown's
    current token and the timer is in that show now: whoever runs a show runs its timers, for
    as long as the token is current and the timer is in it (checked again on every command)."""
    rundown_id, _, token = credential.partition("#")
    raw = await engine.get_rundown(rundown_id)
    if raw is None:
        return False
    show = rundowns.load(raw)
    return (bool(show.control_token) and timer_id in show.timers
            and hmac.compare_digest(token.encode(), show.control_token.encode()))


async def _authenticate(websocket: WebSocket, hub: Hub, timer_id: str) -> str:
    """The presenter's first message: {"type": "auth", "token": "ctl_…"} (the timer's token,
    or with "rundown": "rnd_…" the token of a rundown the timer is in) or
    {"type": "auth", "api_key": "ck_live_…"}. Returns the credential that was accepted."""
    try:
        async with asyncio.timeout(settings.WS_AUTH_TIMEOUT):  # not wait_for: see wake.py
            first = await _receive_json(websocket, None)
    except TimeoutError:
        raise Close(CLOSE_AUTH_TIMEOUT, "authenticate with the first message") from None
    if first is None:
        raise Close(1000, "")
    if first.get("type") != "auth":
        raise Close(CLOSE_UNAUTHORIZED, 'the first message must be {"type": "auth", '
                                        '"token": "ctl_…"}')
    raw = await hub.engine.get_timer(timer_id)
    if raw is None:
        raise Close(CLOSE_NOT_FOUND, "no such timer")
    timer = timers.load(raw)
    token, api_key, show = first.get("token"), first.get("api_key"), first.get("rundown")
    if isinstance(token, str) and isinstance(show, str) and show.startswith("rnd_"):
        credential = f"{show}#{token}"
        if await _show_runs(hub.engine, credential, timer_id):
            return credential
        raise Close(CLOSE_UNAUTHORIZED, "invalid control token for this rundown, or the timer "
                                        "is not in it")
    if isinstance(token, str) and _token_matches(token, timer):
        return token
    if isinstance(api_key, str):
        try:
            account = (await accounts.authenticate(hub.engine, f"Bearer {api_key}",
                                                   now_ms())).account
        except AuthError:
            account = None
        if account is not None and account.id == timer.account_id:
            return api_key
    raise Close(CLOSE_UNAUTHORIZED, "invalid control token or API key for this timer")


async def _read(websocket: WebSocket, hub: Hub, room: Room, viewer: Viewer,
                credential: str | None) -> None:
    bucket = _Bucket(settings.WS_MESSAGES_PER_SECOND, settings.WS_MESSAGE_BURST)
    while viewer.closing is None and not viewer.closed:
        data = await _receive_json(websocket, bucket)
        if data is None:
            return
        kind = data.get("type")
        if kind == "ping":
            sent = data.get("t")
            if not isinstance(sent, int | float) or isinstance(sent, bool):
                raise Close(CLOSE_INVALID, 'ping takes {"type": "ping", "t": <client ms>}')
            viewer.reply(orjson.dumps({"type": "pong", "t": sent,
                                       "server_time": now_ms()}).decode())
        elif kind == "command" and credential is not None:
            await _command(hub, room, viewer, credential, data)
        else:
            raise Close(CLOSE_BAD_MESSAGE, f"unknown message type {kind!r}")


#: What a presenter may send: the timer's commands and the live room's.
ROOM_COMMANDS = ("message", "clear_message", "blackout")


def _command_error(data: dict[str, Any]) -> str | None:
    if data.get("command") not in (*timers.COMMANDS, *ROOM_COMMANDS):
        return f"command must be one of {', '.join((*timers.COMMANDS, *ROOM_COMMANDS))}"
    for name in ("seconds", "expected_version"):
        value = data.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"{name} must be an integer"
    if data["command"] == "message" and not isinstance(data.get("text"), str):
        return "message takes text (a string) and optionally flash (true or false)"
    for name in ("flash", "on"):
        if data.get(name) is not None and not isinstance(data.get(name), bool):
            return f"{name} must be true or false"
    if data["command"] == "blackout" and not isinstance(data.get("on"), bool):
        return "blackout takes on: true or false"
    req = data.get("req")
    if (req is not None and not isinstance(req, str | int)) or len(str(req)) > 64:
        return "req must be a string or integer of at most 64 characters"
    return None


async def _command(hub: Hub, room: Room, viewer: Viewer, credential: str,
                   data: dict[str, Any]) -> None:
    """Run one presenter command through the commit path; acknowledge it either way."""
    req = data.get("req")
    current = room.timer.version if room.timer else 0
    if room.timer is None:
        raise Close(CLOSE_NOT_FOUND, "no such timer")
    if credential.startswith(accounts.KEY_PREFIX):
        try:
            await accounts.authenticate(hub.engine, f"Bearer {credential}", now_ms())
        except AuthError as exc:
            raise Close(CLOSE_UNAUTHORIZED, str(exc)) from None
    elif credential.startswith("rnd_"):
        if not await _show_runs(hub.engine, credential, room.timer.id):
            raise Close(CLOSE_UNAUTHORIZED, "the rundown's control token was rotated, or the "
                                            "timer left the show")
    elif not hmac.compare_digest(timers.control_digest(credential), room.control):
        raise Close(CLOSE_UNAUTHORIZED, "the control token was rotated")
    # Commands cost the timer's account like API requests: a presenter link is no way
    # around the plan's limits.
    account = await hub.engine.get_account(room.timer.account_id)
    if account is not None:
        status = await hub.engine.hit_rate_limit(account.id, accounts.PLANS[account.plan],
                                                 now_ms())
        if not status.allowed:
            _ack(viewer, req, False, current, {
                "type": "rate_limited", "param": None, "retry_after": status.retry_after_s,
                "message": f"rate limit of the {account.plan} plan reached; retry in "
                           f"{status.retry_after_s} s"})
            return
    problem = _command_error(data)
    if problem is not None:
        error: dict[str, Any] = {"type": "invalid_request", "message": problem,
                                 "param": "command"}
        _ack(viewer, req, False, current, error)
        return
    try:
        timer = await _run_command(hub, room, data)
    except timers.TimerError as exc:
        _ack(viewer, req, False, current, {"type": "validation_error", "message": exc.message,
                                           "param": exc.param})
    except VersionConflict as exc:
        _ack(viewer, req, False, exc.current, {
            "type": "version_conflict", "param": "expected_version",
            "message": f"the timer is at version {exc.current}"})
    except commit.TimerNotFound:
        raise Close(CLOSE_NOT_FOUND, "no such timer") from None
    except EngineUnavailable:
        _ack(viewer, req, False, current, {"type": "service_unavailable", "param": None,
                                           "message": "the timer store is unreachable"})
    else:
        _ack(viewer, req, True, timer.version, None)


async def _run_command(hub: Hub, room: Room, data: dict[str, Any]) -> timers.Timer:
    """One presenter command through the commit path, as the REST API runs it."""
    assert room.timer is not None
    account_id, timer_id, name = room.timer.account_id, room.timer_id, data["command"]
    expected = data.get("expected_version")
    if name == "message":
        return await commit.set_message(hub.engine, account_id, timer_id, data["text"],
                                        bool(data.get("flash")), expected_version=expected)
    if name == "clear_message":
        return await commit.clear_message(hub.engine, account_id, timer_id,
                                          expected_version=expected)
    if name == "blackout":
        return await commit.edit(hub.engine, account_id, timer_id, {"blackout": data["on"]},
                                 expected_version=expected)
    return await commit.command(hub.engine, account_id, timer_id, name,
                                seconds=data.get("seconds") or 0, expected_version=expected)


def _ack(viewer: Viewer, req: Any, ok: bool, version: int, error: dict[str, Any] | None) -> None:
    ack: dict[str, Any] = {"type": "ack", "req": req, "ok": ok, "v": version}
    if error is not None:
        ack["error"] = error
    viewer.reply(orjson.dumps(ack).decode())
