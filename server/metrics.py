"""What Castimer measures for Prometheus (served by `scrape`, docs/operations.md), and the
middleware that measures HTTP requests.

Under `castimer serve --workers N` each worker writes its figures to files in one directory
(prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR, set up by the command before
any worker starts), so whichever worker answers a scrape reports every worker's counts.
prometheus_client reads that variable once, when it is first imported: the command sets it
before importing anything that imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Mount, Route

HTTP_LATENCY = Histogram(
    "castimer_http_request_duration_seconds",
    "HTTP requests by route template, method and status, and how long each took to answer; "
    "_count is the number of requests",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
SOCKETS = Gauge("castimer_websockets", "Open websockets of timers' viewers and presenters",
                ["kind"], multiprocess_mode="livesum")
VIEWERS, PRESENTERS = SOCKETS.labels("viewer"), SOCKETS.labels("presenter")
TICKS = Counter("castimer_ticks_sent_total", "Tick messages handed to websockets")
COMMITS = Counter("castimer_commits_total",
                  "Timer commits by result: committed, or conflict (another commit of the "
                  "same timer won the race; the loser reloads)", ["result"])
COMMITTED, CONFLICTS = COMMITS.labels("committed"), COMMITS.labels("conflict")
SCHEDULER_LATENESS = Histogram(
    "castimer_scheduler_lateness_seconds",
    "How long after its deadline the scheduler committed a transition",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60))
WEBHOOK_ATTEMPTS = Counter(
    "castimer_webhook_attempts_total",
    "Webhook attempts by outcome: delivered (2xx), rejected (another status), unreachable "
    "(no answer: timeout, connection error, unsafe address)", ["outcome"])
DELIVERED, REJECTED, UNREACHABLE = (WEBHOOK_ATTEMPTS.labels(outcome)
                                    for outcome in ("delivered", "rejected", "unreachable"))
WEBHOOK_LATENCY = Histogram(
    "castimer_webhook_delivery_seconds",
    "From the commit of an event to the 2xx answer to its delivery, retries included",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300, 1800, 7200, 36000))


def webhook_attempt(status_code: int | None, created_at_ms: int, now: int) -> None:
    """Count one attempt; a delivered one also times its delivery."""
    if status_code is None:
        UNREACHABLE.inc()
    elif 200 <= status_code < 300:
        DELIVERED.inc()
        WEBHOOK_LATENCY.observe(max(0, now - created_at_ms) / 1000)
    else:
        REJECTED.inc()


# -- HTTP requests ----------------------------------------------------------------------------

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request no route matched (a 404, a slash redirect): raw paths never
#: become labels, so a client cannot make up new series.
UNMATCHED = "unmatched"


def route_templates(routes: list[BaseRoute], prefix: str = "") -> dict[Any, str]:
    """Each endpoint (what Starlette's router puts in the scope as `endpoint`) → the path
    template it serves, mounts' prefixes included. An endpoint serving two templates could not
    be told apart afterwards, so it is refused here, at the first request, not mislabelled."""
    found: dict[Any, str] = {}
    for route in routes:
        if isinstance(route, Mount):
            inner = (route_templates(route.routes, prefix + route.path) if route.routes
                     else {route.app: f"{prefix}{route.path}/{{path}}"})
        elif isinstance(route, Route):
            inner = {route.endpoint: prefix + route.path}
        else:
            continue  # websockets: counted by their own gauge
        for endpoint, template in inner.items():
            if found.setdefault(endpoint, template) != template:
                raise ValueError(f"{endpoint!r} serves both {found[endpoint]} and {template}")
    return found


class RequestMetrics:
    """ASGI middleware: time every HTTP request and count it by route template, method and
    status. Pure ASGI (a wrapped `send` that notes the status), and the labelled histogram
    children are cached, so a request pays two clock reads, a dict look-up and one observe.
    The template comes from the endpoint the router chose, which it writes into the scope it
    was given (this middleware's own dict)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._templates: dict[Any, str] | None = None
        self._series: dict[tuple[Any, str, int], Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering

        async def noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, noting_status)
        finally:
            self._series_of(scope, status).observe(time.perf_counter() - began)

    def _series_of(self, scope: dict[str, Any], status: int) -> Any:
        endpoint, method = scope.get("endpoint"), scope["method"]
        if not isinstance(endpoint, Hashable):
            # A path under a mount that none of its routes serve leaves the mount's own router
            # (which defines __eq__, so no __hash__) as the endpoint: unmatched.
            endpoint = None
        key = (endpoint, method, status)
        series = self._series.get(key)
        if series is None:
            if self._templates is None:
                self._templates = route_templates(scope["app"].routes)
            series = self._series[key] = HTTP_LATENCY.labels(
                self._templates.get(endpoint, UNMATCHED),
                method if method in _METHODS else "other", str(status))
        return series
