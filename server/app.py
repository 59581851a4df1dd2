"""The ASGI application: routes, error handling and the lifespan that opens the engine and
starts the scheduler. `uvicorn server.app:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from . import settings
from .api import account, errors, openapi
from .api import timers as timer_routes
from .api.responses import json_response
from .engines import create_engine
from .engines.base import EngineUnavailable
from .scheduler import Scheduler

log = logging.getLogger("castimer")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    engine = create_engine(settings.ENGINE)
    await engine.open()
    scheduler = Scheduler(engine, poll_s=settings.SCHEDULER_POLL)
    task = asyncio.create_task(scheduler.run(), name="castimer-scheduler")
    try:
        yield {"engine": engine, "scheduler": scheduler}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.close()


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await request.state.engine.ping()
    except EngineUnavailable as exc:
        log.warning("not ready: %s", exc)
        return json_response({"status": "unavailable", "engine": "unreachable"}, 503)
    return json_response({"status": "ready"})


api_routes = [*timer_routes.routes, *account.routes,
              Route("/openapi.json", openapi.endpoint, methods=["GET"])]

app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Mount("/api/v1", routes=api_routes),
    ],
    exception_handlers={HTTPException: errors.on_http_exception,
                        Exception: errors.on_exception},
    lifespan=lifespan,
)
