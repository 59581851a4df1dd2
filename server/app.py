"""The ASGI application: routes, error handling and the lifespan that opens the engine and
starts the scheduler. `uvicorn server.app:app`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute

from . import asgi_socket, dashboard, home, metrics, pages, rundown_ws, scrape, settings, ws
from .api import account, errors, keys, openapi
from .api import rundowns as rundown_routes
from .api import timers as timer_routes
from .api import webhooks as webhook_routes
from .api.responses import json_response
from .engines import create_engine, outage
from .engines.base import EngineUnavailable
from .hub import Hub
from .scheduler import Scheduler
from .ticker import Ticker
from .webhooks import dispatcher


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    engine = create_engine(settings.ENGINE)
    await engine.open()
    scheduler = Scheduler(engine, poll_s=settings.SCHEDULER_POLL)
    hub = Hub(engine, stall_timeout=settings.WS_STALL_TIMEOUT)
    ticker = Ticker(hub)
    deliveries = dispatcher.from_settings(engine)
    app.state.hub = hub  # for operators' tooling and tests that look inside a live server
    tasks = [asyncio.create_task(scheduler.run(), name="castimer-scheduler"),
             asyncio.create_task(ticker.run(), name="castimer-ticker"),
             asyncio.create_task(hub.watch_stalls(), name="castimer-stalls"),
             asyncio.create_task(hub.watch_presence(), name="castimer-presence"),
             asyncio.create_task(deliveries.run(), name="castimer-webhooks")]
    try:
        yield {"engine": engine, "scheduler": scheduler, "hub": hub}
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await deliveries.aclose()
        await engine.close()


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine = request.state.engine
    try:
        await engine.ping()
    except EngineUnavailable as exc:
        outage.of(engine).failed(exc, "readiness")
        return json_response({"status": "unavailable", "engine": "unreachable"}, 503)
    outage.of(engine).answered("readiness")
    return json_response({"status": "ready"})


api_routes = [*timer_routes.routes, *rundown_routes.routes, *account.routes,
              *webhook_routes.routes, *keys.routes,
              Route("/openapi.json", openapi.endpoint, methods=["GET"]), *home.api_routes]

app = Starlette(
    routes=[
        # First: the router tries each route in turn, and nearly every request is the API's.
        # No other route's path starts with /api/v1/ (/api/v1 itself is home's).
        Mount("/api/v1", routes=api_routes),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", scrape.endpoint, methods=["GET"]),
        *home.routes,
        WebSocketRoute("/ws/timers/{timer_id}", ws.viewer),
        WebSocketRoute("/ws/control/{timer_id}", ws.control),
        WebSocketRoute("/ws/rundowns/{rundown_id}", rundown_ws.follow),
        *pages.routes,
        *dashboard.routes,
    ],
    middleware=[Middleware(metrics.RequestMetrics), Middleware(asgi_socket.KeepRawSend)],
    exception_handlers={HTTPException: errors.on_http_exception,
                        ClientDisconnect: errors.on_client_gone,
                        Exception: errors.on_exception},
    lifespan=lifespan,
)
