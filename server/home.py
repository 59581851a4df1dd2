"""The landing page (`/`) and the API's index (`/api/v1`): where a newcomer who opens the
server's address, or the API's base URL, finds what is here and whether the store answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import __version__, i18n
from .api.responses import json_response
from .engines.base import EngineUnavailable
from .pages import page_lang, render

#: What the API index points to, and the landing page links to.
LINKS = {"openapi": "/api/v1/openapi.json", "timers": "/api/v1/timers",
         "events": "/api/v1/events", "account": "/api/v1/account", "keys": "/api/v1/keys",
         "dashboard": "/dashboard", "embed": "/embed", "widget": "/widget",
         "health": "/healthz", "ready": "/readyz"}


async def _store_answers(request: Request) -> bool:
    try:
        await request.state.engine.ping()
    except EngineUnavailable:
        return False
    return True


async def landing(request: Request) -> Response:
    lang = page_lang(request)
    return render(request, "home.html", {
        "lang": lang, "t": i18n.CATALOGS[lang], "languages": i18n.AUTONYMS,
        "store_ok": await _store_answers(request), "version": __version__})


async def api_index(request: Request) -> Response:
    """No key needed: it says only what any client could read in the OpenAPI description."""
    return json_response({"name": "Castimer API", "version": __version__, "links": LINKS,
                          "authentication": "Authorization: Bearer <API key>"})


async def api_index_unslashed(request: Request) -> Response:
    """`/api/v1` answers the index too, where the API's Mount would redirect it to `/api/v1/`
    (an endpoint of its own: /metrics labels a request by the one path its endpoint serves)."""
    return await api_index(request)


routes: list[BaseRoute] = [
    Route("/", landing, methods=["GET"]),
    Route("/api/v1", api_index_unslashed, methods=["GET"]),
    Route("/api/v1/", api_index, methods=["GET"]),
]
