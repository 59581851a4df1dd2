"""Every API endpoint is `authenticated`: the caller (a Bearer key, or the dashboard's session
cookie from this server's own pages), then the account's rate limit, then that a body is
labelled JSON, then the endpoint; errors of any of these become the error JSON here, in one
place, and every answer to a known account carries its rate-limit headers. A few endpoints are
`controllable` as well: a timer's control token (Bearer ctl_…) reaches them for that timer, as
its owner's request; it reaches nothing else (404, as for what does not exist)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from .. import accounts, sessions
from ..clock import now_ms
from ..commit import Fetched, WayIn
from ..engines.base import ApiKey, Commit, RateLimit, RateStatus, Store
from . import schema
from .errors import NO_STORE, ApiError, as_api_error, error_response

Endpoint = Callable[[Request], Awaitable[Response]]


def rate_headers(rate: RateLimit, status: RateStatus, now: int) -> dict[str, str]:
    policy = f"{rate.per_minute};w=60"
    if rate.per_day is not None:
        policy += f", {rate.per_day};w=86400"
    headers = {
        "RateLimit-Policy": policy,
        "RateLimit": f"limit={status.limit}, remaining={status.remaining}, reset={status.reset_s}",
        "X-RateLimit-Limit": str(status.limit),
        "X-RateLimit-Remaining": str(status.remaining),
        "X-RateLimit-Reset": str(now // 1000 + status.reset_s),
    }
    if not status.allowed:
        headers["Retry-After"] = str(status.retry_after_s)
    return headers


#: What a control token reaches, for the answer to one used anywhere else.
CONTROLLED = ("GET /timers/{id}, PATCH /timers/{id}/state, POST /timers/{id}/adjust, "
              "PUT /timers/{id}/message and DELETE /timers/{id}/message, of its own timer; "
              "a rundown's, GET /rundowns/{id} and POST /rundowns/{id}/advance of its own")


async def caller(request: Request, engine: Store, now: int, *, counted: bool = False,
                 control: str | None = None) -> accounts.Caller:
    """Who is asking, and with which key: the one place that decides. A Bearer key wins; a
    session cookie counts only for this server's own pages, and its key is re-checked now.
    With `counted` the request is counted against the account's plan, and the timer its path
    names (if any) read, in the same round trip to the store. A control token is let in only
    where `control` names the path parameter of what it controls (and is always counted)."""
    authorization = request.headers.get("authorization")
    token = accounts.control_token_in(authorization)
    if token is not None:
        if control is None:
            raise accounts.ControlTokenRefused(
                f"{request.method} {request.url.path} does not take a control token: a "
                f"control token (ctl_…) reaches only {CONTROLLED}")
        return await accounts.authenticate_control(engine, token, now, control,
                                                   request.path_params[control])
    timer_id = request.path_params.get("timer_id") if counted else None
    if authorization or sessions.cookie_name(request, sessions.COOKIE) not in request.cookies:
        return await accounts.authenticate(engine, authorization, now, counted=counted,
                                           timer_id=timer_id)
    sessions.check_same_origin(request, request.method)
    session = sessions.read(request, now)
    if session is None:
        raise accounts.AuthError("the dashboard session has expired or is not valid here; "
                                 "sign in again")
    if request.method not in sessions.SAFE_METHODS:
        sessions.check_csrf(session.csrf, request.headers.get(sessions.CSRF_HEADER))
    return await accounts.authenticate_digest(engine, session.key_hash, now, counted=counted,
                                              timer_id=timer_id)


def authenticated(endpoint: Endpoint) -> Endpoint:
    """The endpoint, for the account's API keys and its dashboard session."""
    return _guard(endpoint, control=None)


def controllable(param: str, *, writes: bool = False) -> Callable[[Endpoint], Endpoint]:
    """`authenticated`, and open to the control token of what the path parameter `param` names
    (`timer_id`: a timer) as well: such a request is its owner's, counted against the owner's
    plan, and has `request.state.by_control_token` set (and no `api_key`). With `writes` (an
    endpoint that changes the timer through `commit.change_timer`, passing it
    `request.state.fetched`) an API key's way in may wait for the change's first commit and
    go with it (`KeyWayIn`): then only `request.state.account_id` is known before that."""
    return functools.partial(_guard, control=param, writes=writes)


class RateLimited(Exception):
    """The account's budget refuses the request (429)."""

    def __init__(self, plan: str, status: RateStatus) -> None:
        window = "minute" if status.window_s == 60 else "day"
        super().__init__(f"rate limit of the {plan} plan reached ({status.limit} requests per "
                         f"{window}); retry in {status.retry_after_s} s")


def _let_in(request: Request, who: accounts.Caller, now: int) -> None:
    """Record who the request is from in its state, with its rate-limit headers; raise
    `RateLimited` if its budget refuses it."""
    status = who.rate
    assert status is not None  # counted
    request.state.rate_headers = rate_headers(accounts.PLANS[who.account.plan], status, now)
    if not status.allowed:
        raise RateLimited(who.account.plan, status)
    request.state.account = who.account
    request.state.account_id = who.account.id
    request.state.api_key = who.key
    request.state.by_control_token = who.by_control_token
    request.state.rate = status
    request.state.viewers = who.viewers  # the named timer's, read with it


class KeyWayIn(WayIn):
    """An API key's way in (revocation, account, rate limit), taken with the request's first
    commit: one round trip on Redis for a write (`Store.admit_commit`). Only keys this
    process has looked up before come this way; their revocation is still checked by the
    store in the same step as the commit, so a revoked key writes nothing."""

    __slots__ = ("admitted", "key", "now", "request")

    def __init__(self, request: Request, key: ApiKey, now: int) -> None:
        super().__init__()
        self.request, self.key, self.now = request, key, now
        self.admitted = False

    async def enter(self, timer_id: str | None) -> bytes | None:
        self.entered = True
        who = await accounts.authenticate_digest(self.request.state.engine, self.key.key_hash,
                                                 self.now, counted=True, timer_id=timer_id)
        _let_in(self.request, who, self.now)
        self.admitted = True
        return who.timer

    async def enter_with(self, unit: Commit) -> tuple[bool, bytes | None]:
        self.entered = True
        done = await self.request.state.engine.admit_commit(
            self.key, self.now, unit, touch_after_ms=accounts.TOUCH_EVERY_MS,
            plans=accounts.PLANS)
        _let_in(self.request, accounts.admitted_caller(done.admission, self.key), self.now)
        self.admitted = True
        return done.committed, done.admission.timer


def _refusal(exc: Exception, request: Request) -> Response:
    """The answer to a request refused on its way in (or by its endpoint's error)."""
    if isinstance(exc, RateLimited):
        return error_response(ApiError(429, "rate_limited", str(exc)),
                              request.state.rate_headers)
    error = as_api_error(exc)
    if error is None:
        raise exc
    return error_response(error)


def _guard(endpoint: Endpoint, control: str | None, writes: bool = False) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        engine = request.state.engine
        now = now_ms()
        way_in: KeyWayIn | None = None
        try:
            key = accounts.known_key(engine, request.headers.get("authorization")) \
                if writes and engine.one_trip_writes else None
            if key is not None:
                way_in = KeyWayIn(request, key, now)
                request.state.account_id = key.account_id
                request.state.fetched = way_in
            else:
                who = await caller(request, engine, now, counted=True, control=control)
                _let_in(request, who, now)
                # The timer the path names, as read on the way in (commit.Fetched).
                request.state.fetched = Fetched(who.timer)
        except Exception as exc:
            return _refusal(exc, request)
        try:
            schema.check_media_type(request)
            response = await endpoint(request)
        except Exception as exc:
            if way_in is not None and way_in.entered and not way_in.admitted:
                return _refusal(exc, request)  # the way in refused it, at the first commit
            response = _refusal(exc, request)
        if way_in is not None and not way_in.entered:
            # Refused before any commit (a bad body, say): the way in still decides first.
            try:
                await way_in.enter(None)
            except Exception as exc:
                return _refusal(exc, request)
        response.headers.update(request.state.rate_headers)
        response.headers.update(NO_STORE)
        return response

    return guarded
