"""The pages people see: the widget (`/widget`), the stage display (`/stage/{id}`), the embed
generator (`/embed`) and the presenter pages (`/control/{id}`, a timer's or a rundown's), plus
the files they load (`/static`, `/widget/*.js|css`).

Everything a page needs is served from here: widgets run on sites with strict networks, so a
page never asks another host for anything. Each page carries a strict Content-Security-Policy
(scripts only from this server, the one inline style nonced); only the widget and the stage
display, which have nothing to click, may be framed.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import commit, i18n, rundowns, settings, stage_params, timer_json, timers, widget_params
from .api.responses import json_response
from .api.timers import base_url
from .clock import now_ms
from .engines.base import EngineUnavailable

# Package data (pyproject.toml), found beside this module in editable and installed copies alike.
HERE = Path(__file__).resolve().parent
WIDGET_DIR = HERE / "widget"
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
#: Plans whose live timers may hide the Castimer branding.
PAID_PLANS = frozenset({"pro", "enterprise"})
_WIDGET_ASSETS = {"widget.js": "text/javascript", "widget.css": "text/css"}
# Page scripts are ES modules, which browsers fetch with CORS: a widget framed with
# sandbox="allow-scripts" has an opaque origin and loads them only if any origin may. They are
# public files, and no credentials go with them.
_ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader([TEMPLATES_DIR, WIDGET_DIR]), autoescape=True, trim_blocks=True,
    lstrip_blocks=True))


def _policy(request: Request, nonce: str, *, framed_by: str, frames: bool = False,
            forms: bool = False) -> str:
    """The page's CSP. Websockets are named explicitly as well as by 'self', which older
    browsers do not apply to ws: URLs."""
    sockets = ""
    host = request.headers.get("host", "")
    if _HOST.fullmatch(host):
        sockets = f" ws://{host} wss://{host}"
    return "; ".join([
        "default-src 'none'", "script-src 'self'", f"style-src 'self' 'nonce-{nonce}'",
        f"connect-src 'self'{sockets}", "img-src 'self' data:", "base-uri 'none'",
        "form-action 'self'" if forms else "form-action 'none'",
        "frame-src 'self'" if frames else "frame-src 'none'",
        f"frame-ancestors {framed_by}",
    ])


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200,
           framed_by: str = "'none'", frames: bool = False, forms: bool = False,
           referrer: str = "no-referrer") -> Response:
    nonce = secrets.token_urlsafe(16)
    headers = {"Content-Security-Policy": _policy(request, nonce, framed_by=framed_by,
                                                  frames=frames, forms=forms),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": referrer,
               "Cache-Control": "no-store"}
    return templates.TemplateResponse(request, name,
                                      {**context, "nonce": nonce, "referrer": referrer},
                                      status_code=status, headers=headers)


def _standalone(params: widget_params.WidgetParams) -> dict[str, Any]:
    return {"type": params.type, "title": params.title or "", "duration": params.duration,
            "target_ms": params.target_ms, "timezone": params.timezone, "work": params.work,
            "rest": params.rest, "rounds": params.rounds}


class _Unshowable(Exception):
    """The widget cannot show its timer: an HTTP status and the message to show instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _live(request: Request, timer_id: str, lang: str) -> tuple[dict[str, Any], bool]:
    """A live timer's public state, and whether its account's plan may hide the branding."""
    engine = request.state.engine
    try:
        raw = await engine.get_timer(timer_id)
        timer = timers.load(raw) if raw is not None else None
        account = await engine.get_account(timer.account_id) if timer else None
    except EngineUnavailable:
        raise _Unshowable(503, i18n.text(lang, "error.unavailable")) from None
    if timer is None:
        raise _Unshowable(404, i18n.text(lang, "error.not_found", value=timer_id))
    return timer_json.public(timer, now_ms()), account is not None and account.plan in PAID_PLANS


class _Show(NamedTuple):
    """A rundown as its viewers are served it: the public rundown, its current timer (None while
    the show is on none), what to draw first (that timer's public state, or a blank titled with
    the rundown), and whether its account's plan may hide the branding."""

    rundown: dict[str, Any]
    timer_id: str | None
    timer: dict[str, Any]
    paid: bool


async def _show(request: Request, rundown_id: str, lang: str) -> _Show:
    engine = request.state.engine
    try:
        raw = await engine.get_rundown(rundown_id)
        rundown = rundowns.load(raw) if raw is not None else None
        account = await engine.get_account(rundown.account_id) if rundown else None
        current = await engine.get_timer(rundown.current) if rundown and rundown.current else None
    except EngineUnavailable:
        raise _Unshowable(503, i18n.text(lang, "error.unavailable")) from None
    if rundown is None:
        raise _Unshowable(404, i18n.text(lang, "error.rundown_not_found", value=rundown_id))
    now = now_ms()
    # A current timer deleted a moment ago is on its way out of the rundown too: the show
    # waits, as it will once that change arrives.
    timer = (timer_json.public(timers.load(current), now) if current is not None else
             {"type": timers.COUNTDOWN, "state": "idle", "remaining_ms": 0, "elapsed_ms": 0,
              "total_ms": 0, "server_time": now, "version": 0, "title": rundown.title})
    return _Show(commit.public_rundown(rundown), rundown.current if current else None, timer,
                 account is not None and account.plan in PAID_PLANS)


async def widget(request: Request) -> Response:
    params = widget_params.parse(request.query_params)
    lang = params.lang
    status, problems = 200, [p.message(lang) for p in params.problems]
    snapshot, paid, rundown, timer_id = None, False, None, params.timer
    if problems:
        status = 400
    elif params.timer is not None or params.rundown is not None:
        try:
            if params.rundown is not None:
                rundown, timer_id, snapshot, paid = await _show(request, params.rundown, lang)
            else:
                snapshot, paid = await _live(request, params.timer or "", lang)
        except _Unshowable as unshowable:
            status, problems = unshowable.status, [unshowable.message]
    # A title given in the URL wins, even over later changes of the live timer's own title.
    fixed_title = params.title if "title" in request.query_params else None
    title = fixed_title if fixed_title is not None or snapshot is None else snapshot["title"]
    config = {
        "lang": lang, "timer_id": timer_id, "live": snapshot is not None,
        "fixed_title": fixed_title, **({"rundown": rundown} if rundown else {}),
        "timer": {**snapshot, "title": title} if snapshot else _standalone(params),
        "show_title": params.show_title, "show_date": params.show_date, "alarm": params.alarm,
        "text": i18n.subset(lang, ("widget.", "show.") if rundown else ("widget.",)),
    }
    return render(request, "widget.html", {
        "lang": lang, "t": i18n.CATALOGS[lang], "params": params, "title": title or "",
        "problems": problems, "config": config,
        "brand": settings.BRANDING and (params.show_brand or not paid),
    }, status=status, framed_by="*")


async def stage(request: Request) -> Response:
    """The full-window display of a live timer (or a rundown's current timer) for a stage or
    an OBS browser source."""
    shown_id = request.path_params["id"]
    params = stage_params.parse(shown_id, request.query_params)
    lang = params.lang
    status, problems = 200, [p.message(lang) for p in params.problems]
    snapshot, rundown, timer_id = None, None, shown_id
    if problems:
        status = 400
    else:
        try:
            if stage_params.is_rundown(shown_id):
                rundown, timer_id, snapshot, _ = await _show(request, shown_id, lang)
            else:
                snapshot, _ = await _live(request, shown_id, lang)
        except _Unshowable as unshowable:
            status, problems = unshowable.status, [unshowable.message]
    config = {"lang": lang, "timer_id": timer_id, "rundown": rundown, "timer": snapshot,
              "clock": params.clock,
              "text": i18n.subset(lang, ("stage.", "widget.", "show."))}
    return render(request, "stage.html", {
        "lang": lang, "t": i18n.CATALOGS[lang], "params": params, "problems": problems,
        "title": snapshot["title"] if snapshot else "", "config": config,
    }, status=status, framed_by="*")


async def widget_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _WIDGET_ASSETS:
        return Response("not found", 404, media_type="text/plain")
    return FileResponse(WIDGET_DIR / name, media_type=_WIDGET_ASSETS[name],
                        headers={"Cache-Control": "public, max-age=300",
                                 "X-Content-Type-Options": "nosniff", **_ANY_ORIGIN})


class _PublicFiles(StaticFiles):
    """The static files, which any origin may fetch (see _ANY_ORIGIN)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(_ANY_ORIGIN)
        return response


def page_lang(request: Request) -> str:
    return i18n.negotiate(request.query_params.get("lang"),
                          request.headers.get("accept-language"))


async def embed(request: Request) -> Response:
    lang = page_lang(request)
    config = {"lang": lang, "base": base_url(request), "languages": i18n.AUTONYMS,
              "text": i18n.subset(lang, ("embed.",)), "defaults": {
                  "duration": widget_params.DEFAULT_DURATION, "work": timers.DEFAULT_WORK,
                  "rest": timers.DEFAULT_REST, "rounds": timers.DEFAULT_ROUNDS,
                  "primary_color": widget_params.DEFAULT_COLOR}}
    return render(request, "embed.html", {"lang": lang, "t": i18n.CATALOGS[lang],
                                           "languages": i18n.AUTONYMS, "config": config},
                   frames=True)


#: The frame sizes the reference allows (px), which the generator's width and height keep to.
FRAME_SIZES = {"width": (100, 600), "height": (200, 600)}


async def embed_check(request: Request) -> Response:
    """The embed generator's settings checked by the widget's own rules (widget_params), with
    the messages the widget would show, in the page's language (`ui`): the generator flags a
    field exactly when the widget would refuse its value. The frame's size is checked too."""
    query = request.query_params
    ui = i18n.pick(query.get("ui"))
    problems = list(widget_params.parse(query).problems)
    for name, (low, high) in FRAME_SIZES.items():
        if name in query:
            size = widget_params.integer(name, query[name], low, high)
            if isinstance(size, widget_params.Problem):
                problems.append(size)
    return json_response({"problems": [{"param": p.param, "message": p.message(ui)}
                                       for p in problems]},
                         headers={"Cache-Control": "no-store"})


async def control(request: Request) -> Response:
    """A timer's presenter page, or a show's (`rnd_…`: its timers in order, run one by one)."""
    lang = page_lang(request)
    object_id = request.path_params["timer_id"]
    rundown = object_id.startswith("rnd_")
    config = {"lang": lang, "rundown_id" if rundown else "timer_id": object_id,
              "text": i18n.subset(lang, ("control.", "widget."))}
    return render(request, "rundown_control.html" if rundown else "control.html",
                  {"lang": lang, "t": i18n.CATALOGS[lang], "config": config})


routes: list[BaseRoute] = [
    Route("/widget", widget, methods=["GET"]),
    Route("/widget/{name}", widget_asset, methods=["GET"]),
    Route("/stage/{id}", stage, methods=["GET"]),
    Route("/embed", embed, methods=["GET"]),
    Route("/embed/check", embed_check, methods=["GET"]),
    Route("/control/{timer_id}", control, methods=["GET"]),
    Mount("/static", app=_PublicFiles(directory=STATIC_DIR), name="static"),
]
