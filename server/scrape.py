"""`GET /metrics`: every metric of `metrics` (of every worker, in multiprocess mode) and the
outbox's depth read from the store, in Prometheus' text format, to the clients allowed."""

from __future__ import annotations

import glob
import hmac
import ipaddress
import os
import re
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response

from . import settings
from .api.errors import ApiError, error_response
from .clock import now_ms
from .engines.base import EngineUnavailable

#: Where every worker writes its metrics (prometheus_client's own variable).
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

#: Headers a proxy adds: a request that carries one came through a proxy, so its loopback
#: peer address says nothing about the client.
_PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip", b"x-forwarded-host",
                  b"true-client-ip", b"cf-connecting-ip", b"x-client-ip", b"via")
_PID = re.compile(r"_(\d+)\.db$")


def _refusal(request: Request) -> Response | None:
    """None if this client may scrape. With CASTIMER_METRICS_TOKEN: the Bearer token,
    compared in constant time. Without: a direct connection from a loopback address only."""
    token = str(settings.METRICS_TOKEN)
    if token:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return error_response(
            ApiError(401, "authentication_error", "/metrics needs the Authorization header "
                     "'Bearer <CASTIMER_METRICS_TOKEN>'"), {"WWW-Authenticate": "Bearer"})
    forwarded = any(name in _PROXY_HEADERS for name, _ in request.scope["headers"])
    if not forwarded and _is_loopback(request.client.host if request.client else None):
        return None
    return error_response(ApiError(
        403, "forbidden", "/metrics answers only direct connections from loopback addresses "
        "while CASTIMER_METRICS_TOKEN is unset; set it to scrape from elsewhere or through "
        "a proxy"))


def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False  # no address (a Unix socket, behind whatever proxy) or a name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that are gone (killed, restarted by uvicorn), so
    `castimer_websockets` counts only open sockets. Their counters stay: totals never drop."""
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        found = _PID.search(path)
        if found is None:
            continue
        pid = int(found.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, under another user


class _Outbox:
    """The outbox's depth as read from the store just before this scrape."""

    def __init__(self, depth: tuple[int, int] | None) -> None:
        self.depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("castimer_store_up", "1 if the store answered this scrape")
        up.add_metric([], 0 if self.depth is None else 1)
        yield up
        if self.depth is None:
            return
        pending, due = self.depth
        yield GaugeMetricFamily(
            "castimer_outbox_pending", "Timers with a webhook delivery waiting in the outbox "
            "(each counts once; its later deliveries queue behind the first)", value=pending)
        yield GaugeMetricFamily(
            "castimer_outbox_due", "Of those, the ones whose next delivery is due and not in "
            "flight: the dispatchers' backlog", value=due)


async def endpoint(request: Request) -> Response:
    refused = _refusal(request)
    if refused is not None:
        return refused
    try:
        depth: tuple[int, int] | None = await request.state.engine.outbox_depth(now_ms())
    except EngineUnavailable:
        depth = None
    directory = os.environ.get(DIRECTORY_VARIABLE)
    if directory:
        forget_dead_workers(directory)
        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers, directory)
        body = generate_latest(workers)
    else:
        body = generate_latest(REGISTRY)
    store = CollectorRegistry()
    store.register(_Outbox(depth))
    return Response(body + generate_latest(store), media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
