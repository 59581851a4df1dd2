"""What the sync and the async client share: a call described as data, the retry decision and
the reading of an answer. Neither sleeps nor sends; the clients only pump requests through."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ._errors import APIConnectionError, CastimerError, error_from, retry_after

T = TypeVar("T")

__version__ = "0.1.0"
USER_AGENT = f"castimer-client-python/{__version__}"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API operation: the request, whether repeating it is harmless, and how to read the
    answer's JSON (None for an empty answer)."""

    method: str
    path: str  # under /api/v1
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    #: Sending it twice has the effect of sending it once (GET, PUT, DELETE, a PATCH that sets
    #: fields, a change with expected_version): then a 503 or a broken connection is retried.
    idempotent: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a call again, and after how long.

    A 429 and a refused connection are retried for every call: the server did not act. A 503 or
    a connection that broke mid-request are retried only for idempotent calls, since the server
    may have acted. `Retry-After` is honoured; a wait longer than `max_delay` (a daily cap
    reached) raises at once instead of sleeping."""

    max_retries: int = 2
    max_delay: float = 60.0
    backoff: float = 0.5  # first wait without Retry-After; doubles, jittered, capped at 8 s

    def after_response(self, call: Call[Any], attempt: int, response: httpx.Response
                       ) -> float | None:
        status = response.status_code
        if status == 429 or (status == 503 and call.idempotent):
            return self._wait(attempt, retry_after(response.headers))
        return None

    def after_error(self, call: Call[Any], attempt: int, error: httpx.TransportError
                    ) -> float | None:
        not_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return self._wait(attempt, None) if not_sent or call.idempotent else None

    def _wait(self, attempt: int, asked: float | None) -> float | None:
        if attempt >= self.max_retries:
            return None
        if asked is None:
            asked = min(self.backoff * 2**attempt, 8.0) * random.uniform(0.5, 1.0)  # noqa: S311
        return asked if asked <= self.max_delay else None


def settle(call: Call[T], response: httpx.Response) -> T:
    """The call's result from a final answer, or the error it stands for."""
    if not response.is_success:
        raise error_from(response)
    return call.parse(response.json() if response.content else None)


def connection_error(error: httpx.TransportError) -> CastimerError:
    return APIConnectionError(f"{type(error).__name__}: {error}" if str(error)
                              else type(error).__name__)


def options(api_key: str | None, base_url: str | None) -> tuple[str, str, dict[str, str]]:
    """The server's root URL, the API's and the headers every request carries, from the
    arguments or else CASTIMER_API_KEY and CASTIMER_BASE_URL."""
    key = api_key or os.environ.get("CASTIMER_API_KEY")
    if not key:
        raise CastimerError("pass api_key=… (a ck_live_… key, or a timer's ctl_… control "
                            "token) or set CASTIMER_API_KEY")
    root = (base_url or os.environ.get("CASTIMER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    root = root.removesuffix("/api/v1")
    return root, f"{root}/api/v1", {"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT,
                                    "Accept": "application/json"}


def live_url(root: str, timer_id: str, count: bool) -> str:
    scheme, rest = root.split("://", 1)
    ws = {"https": "wss", "http": "ws"}.get(scheme, scheme)
    return f"{ws}://{rest}/ws/timers/{quote(timer_id, safe='')}" + ("" if count else "?count=0")
