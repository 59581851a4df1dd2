"""The landing page (`/`) and the API's index (`/api/v1`): where a newcomer who opens the
server's address, or the API's base URL, finds what is here and whether the store answers."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
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


def _docs() -> dict[str, Path]:
    """The project's docs by name, when this is a source checkout (the README's quick start
    installs from one, editable): README.md and docs/*.md beside the package. A wheel has
    none; the landing page then names them without links."""
    source = Path(__file__).resolve().parent.parent
    project = source / "pyproject.toml"
    if not project.is_file() or 'name = "castimer"' not in project.read_text(encoding="utf-8"):
        return {}
    return {"README.md": source / "README.md",
            **{path.name: path for path in sorted((source / "docs").glob("*.md"))}}


DOCS = _docs()
#: The docs the landing page lists, in its order.
LISTED = ("README.md", "webhooks.md", "websockets.md", "engines.md", "operations.md",
          "performance.md")


async def doc(request: Request) -> Response:
    """One of the project's docs as Markdown text; only the files DOCS names."""
    path = DOCS.get(request.path_params["name"])
    if path is None or not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, media_type="text/markdown; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "public, max-age=300"})


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
        "store_ok": await _store_answers(request), "version": __version__,
        "docs": [(name, name in DOCS) for name in LISTED]})


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
    Route("/docs/{name}", doc, methods=["GET"]),
]
#: Served inside the API's Mount (`/api/v1/`), after its own routes.
api_routes: list[BaseRoute] = [Route("/", api_index, methods=["GET"])]
