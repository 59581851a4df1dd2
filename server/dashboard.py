"""The dashboard (`/dashboard`): sign in with an API key, which becomes a session cookie
(server/sessions.py); the page's script then uses the real /api/v1 endpoints with it. Signing
in and out are plain forms, guarded by their Origin and a CSRF token."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import accounts, i18n, sessions, settings, timers
from .api.auth import caller
from .clock import now_ms
from .engines.base import Account, EngineUnavailable
from .pages import page_lang, render

#: With no-referrer, browsers send `Origin: null` on form posts and fetches, and the origin
#: check could not tell the dashboard's own requests from a sandboxed page's.
_REFERRER = "same-origin"
#: Longest sign-in or sign-out form body read (bytes), and most fields: a key and a token.
_MAX_FORM = 4096
_MAX_FIELDS = 10
#: How long the sign-in form's token lives (seconds).
_SIGN_IN_MAX_AGE = 3600


class BadForm(Exception):
    """A sign-in or sign-out body that no dashboard form sends; its answer is `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body's fields (the first value of each). The
    body is read as text (never as multipart), so no part or file is ever stored."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_FORM:
            raise BadForm(413, f"the form must be at most {_MAX_FORM} bytes")
    try:
        fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=_MAX_FIELDS)
    except ValueError:  # more fields than max_num_fields
        raise BadForm(400, f"the form must have at most {_MAX_FIELDS} fields") from None
    return {name: values[0] for name, values in fields.items()}


async def _signed_in(request: Request) -> tuple[Account, sessions.Session] | None:
    """The session's account if its key is still good; None sends the visitor to sign in."""
    session = sessions.read(request, now_ms())
    if session is None:
        return None
    try:
        account = (await caller(request, request.state.engine, now_ms())).account
    except (accounts.AuthError, sessions.CrossSite):
        return None
    return account, session


def _sign_in_page(request: Request, lang: str, problem: str | None = None,
                  status: int = 200, *, end_session: bool = False) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "sign_in.html", {
        "lang": lang, "t": i18n.CATALOGS[lang], "csrf": token, "problem": problem,
        "languages": i18n.AUTONYMS}, status=status, forms=True,
                      referrer=_REFERRER)
    sessions.set_cookie(response, request, sessions.SIGN_IN_COOKIE, token, _SIGN_IN_MAX_AGE)
    if end_session:
        sessions.clear_cookie(response, request, sessions.COOKIE)
    return response


_STORE_DOWN = "The timer store is unreachable right now; reload this page in a moment."


async def dashboard(request: Request) -> Response:
    lang = page_lang(request)
    try:
        found = await _signed_in(request)
    except EngineUnavailable:
        return PlainTextResponse(_STORE_DOWN, 503)
    if found is None:
        ended = sessions.cookie_name(request, sessions.COOKIE) in request.cookies
        return _sign_in_page(request, lang, i18n.text(lang, "dashboard.session_ended")
                             if ended else None, end_session=ended)
    account, session = found
    config = {"lang": lang, "csrf": session.csrf, "csrf_header": sessions.CSRF_HEADER,
              "events": list(timers.EVENTS),
              "text": i18n.subset(lang, ("dashboard.", "timer_type.", "widget.", "control."))}
    return render(request, "dashboard.html", {
        "lang": lang, "t": i18n.CATALOGS[lang], "account": account, "csrf": session.csrf,
        "config": config, "events": config["events"], "ranges": timers.RANGES,
        "max_title": timers.MAX_TITLE}, forms=True, referrer=_REFERRER)


async def sign_in(request: Request) -> Response:
    lang = page_lang(request)
    try:
        sessions.check_same_origin(request, request.method)
        fields = await _form(request)
        sessions.check_csrf(
            request.cookies.get(sessions.cookie_name(request, sessions.SIGN_IN_COOKIE), ""),
            fields.get("csrf"))
    except sessions.CrossSite:
        return _sign_in_page(request, lang, i18n.text(lang, "dashboard.cross_site"), 403)
    except BadForm as exc:
        return PlainTextResponse(exc.message, exc.status)
    key = fields.get("key", "").strip()
    try:
        api_key = (await accounts.authenticate(request.state.engine, f"Bearer {key}",
                                                now_ms())).key
    except accounts.AuthError:
        return _sign_in_page(request, lang, i18n.text(lang, "dashboard.bad_key"), 401)
    except EngineUnavailable:
        return PlainTextResponse(_STORE_DOWN, 503)
    session = sessions.new(api_key.key_hash, now_ms())
    response = RedirectResponse(f"/dashboard?lang={lang}", 303)
    sessions.set_cookie(response, request, sessions.COOKIE, sessions.encode(session),
                        settings.SESSION_MAX_AGE)
    sessions.clear_cookie(response, request, sessions.SIGN_IN_COOKIE)
    return response


async def sign_out(request: Request) -> Response:
    lang = page_lang(request)
    session = sessions.read(request, now_ms())
    try:
        sessions.check_same_origin(request, request.method)
        fields = await _form(request)
        if session is not None:  # an expired session may end without its token
            sessions.check_csrf(session.csrf, fields.get("csrf"))
    except sessions.CrossSite:
        return _sign_in_page(request, lang, i18n.text(lang, "dashboard.cross_site"), 403)
    except BadForm as exc:
        return PlainTextResponse(exc.message, exc.status)
    response = RedirectResponse(f"/dashboard?lang={lang}", 303)
    sessions.clear_cookie(response, request, sessions.COOKIE)
    return response


routes: list[BaseRoute] = [
    Route("/dashboard", dashboard, methods=["GET"]),
    Route("/dashboard/sign-in", sign_in, methods=["POST"]),
    Route("/dashboard/sign-out", sign_out, methods=["POST"]),
]
