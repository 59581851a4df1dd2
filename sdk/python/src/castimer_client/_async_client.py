"""`AsyncCastimer`: the asyncio twin of `Castimer` (`_client.py`), with the same resources and
methods, awaited. Every method builds its call in `_operations` and sends it through `_run`,
which retries by `RetryPolicy`."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar, Unpack

import httpx

from . import _operations as ops
from ._core import Call, RetryPolicy, connection_error, live_url, options, settle
from ._live import Clock, LiveStream
from ._models import Account, ApiKey, Delivery, Event, Page, Rundown, Timer, WebhookSecret
from ._operations import RundownFields, TimerCreate, TimerFields

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """Every item of a list (`async for`), fetching the next page only when the last one is
    used up. `pages()` walks the pages themselves."""

    def __init__(self, run: Callable[[Call[Page[T]]], Awaitable[Page[T]]],
                 page: Callable[[str | None], Call[Page[T]]]) -> None:
        self._run, self._page = run, page

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor: str | None = None
        while True:
            found = await self._run(self._page(cursor))
            yield found
            if not found.has_more or not found.next_cursor:
                return
            cursor = found.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for found in self.pages():
            for item in found.data:
                yield item


class AsyncCastimer:
    """An asyncio client of one Castimer server: the methods of `Castimer`, awaited.

    `api_key`: a `ck_live_…` key (default: `CASTIMER_API_KEY`); `base_url`: the server's
    address (default: `CASTIMER_BASE_URL`, else http://127.0.0.1:8000). `max_retries` and
    `max_retry_delay` bound the retries of 429 and 503 answers (see `RetryPolicy`); 0
    retries raises at once. `http_client` replaces the httpx client (proxies, transports).
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None,
                 timeout: float = 10.0, max_retries: int = 2, max_retry_delay: float = 60.0,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.base_url, self._api, self._headers = options(api_key, base_url)
        self.retry = RetryPolicy(max_retries=max_retries, max_delay=max_retry_delay)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.timers = Timers(self)
        self.events = Events(self)
        self.deliveries = Deliveries(self)
        self.account = AccountResource(self)
        self.keys = Keys(self)
        self.rundowns = Rundowns(self)

    async def _run(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, self._api + call.path,
                                              json=call.body, params=call.params,
                                              headers=self._headers)
            except httpx.TransportError as exc:
                wait = self.retry.after_error(call, attempt, exc)
                if wait is None:
                    raise connection_error(exc) from exc
            else:
                wait = self.retry.after_response(call, attempt, response)
                if wait is None:
                    return settle(call, response)
            await asyncio.sleep(wait)
            attempt += 1

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCastimer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Resource:
    def __init__(self, client: AsyncCastimer) -> None:
        self._client = client

    async def _run(self, call: Call[T]) -> T:
        return await self._client._run(call)


class Timers(_Resource):
    async def create(self, **fields: Unpack[TimerCreate]) -> Timer:
        """A new timer: `type` ("countdown" with `duration`, "event" with `target_date`,
        "interval" with `work`, `rest`, `rounds`) and any of its other fields."""
        return await self._run(ops.create_timer(fields))

    def list(self, *, limit: int | None = None) -> AsyncPager[Timer]:
        """Every timer of the account, oldest first; `limit` is the page size."""
        return AsyncPager(self._run, lambda cursor: ops.list_timers(limit, cursor))

    async def get(self, timer_id: str) -> Timer:
        return await self._run(ops.get_timer(timer_id))

    async def update(self, timer_id: str, *, expected_version: int | None = None,
               **fields: Unpack[TimerFields]) -> Timer:
        """Change fields; None clears a nullable one (webhook_url, warn_at, start_at…)."""
        return await self._run(ops.update_timer(timer_id, fields, expected_version))

    async def start(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return await self._run(ops.command(timer_id, "start", expected_version))

    async def pause(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return await self._run(ops.command(timer_id, "pause", expected_version))

    async def resume(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return await self._run(ops.command(timer_id, "resume", expected_version))

    async def reset(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return await self._run(ops.command(timer_id, "reset", expected_version))

    async def stop(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        """End a timer (in overtime, or running) as completed, with `timer.stopped`."""
        return await self._run(ops.command(timer_id, "stop", expected_version))

    async def set_state(self, timer_id: str, state: str, *,
                  expected_version: int | None = None) -> Timer:
        """Bring the timer to `state` (running, paused, idle, completed); no change if it
        is there already."""
        return await self._run(ops.set_state(timer_id, state, expected_version))

    async def adjust(self, timer_id: str, seconds: int, *,
               expected_version: int | None = None) -> Timer:
        """Add (positive) or remove (negative) time."""
        return await self._run(ops.adjust(timer_id, seconds, expected_version))

    async def set_message(self, timer_id: str, text: str, *, flash: bool = False,
                    expected_version: int | None = None) -> Timer:
        """Show `text` (1 to 280 characters) on every display of the timer."""
        return await self._run(ops.set_message(timer_id, text, flash, expected_version))

    async def clear_message(self, timer_id: str) -> Timer:
        return await self._run(ops.clear_message(timer_id))

    async def rotate_control_token(self, timer_id: str) -> Timer:
        """A new control token (in `urls.control`); presenters holding the old one are
        disconnected."""
        return await self._run(ops.rotate_control_token(timer_id))

    async def test_webhook(self, timer_id: str) -> Delivery:
        """Send a `webhook.test` delivery to the timer's webhook_url."""
        return await self._run(ops.test_webhook(timer_id))

    async def delete(self, timer_id: str, *, expected_version: int | None = None) -> None:
        await self._run(ops.delete_timer(timer_id, expected_version))

    def live(self, timer_id: str, *, count_as_viewer: bool = True,
             clock: Clock | None = None) -> LiveStream:
        """The timer as it changes: an async iterator of `LiveUpdate`s,
        reconnecting by itself (see `LiveStream`). `count_as_viewer=False`: not counted in the
        timer's `viewers`. `clock` replaces this machine's wall clock (epoch ms)."""
        return LiveStream(live_url(self._client.base_url, timer_id, count_as_viewer),
                          clock=clock)


class Events(_Resource):
    def list(self, *, timer_id: str | None = None, limit: int | None = None) -> AsyncPager[Event]:
        """The account's event log, oldest first; `timer_id` narrows it to one timer."""
        return AsyncPager(self._run, lambda cursor: ops.list_events(timer_id, limit, cursor))


class Deliveries(_Resource):
    def list(self, timer_id: str, *, limit: int | None = None) -> AsyncPager[Delivery]:
        """A timer's webhook deliveries, newest first."""
        return AsyncPager(self._run, lambda cursor: ops.list_deliveries(timer_id, limit, cursor))

    async def get(self, delivery_id: str) -> Delivery:
        """A delivery with its payload and every attempt."""
        return await self._run(ops.get_delivery(delivery_id))

    async def retry(self, delivery_id: str) -> Delivery:
        """Send a finished delivery again, with the whole retry schedule."""
        return await self._run(ops.retry_delivery(delivery_id))


class AccountResource(_Resource):
    async def get(self) -> Account:
        """Plan, limits, today's usage and the webhook signing secret."""
        return await self._run(ops.get_account())

    async def rotate_webhook_secret(self) -> WebhookSecret:
        """A new signing secret; the old one signs beside it for 24 hours."""
        return await self._run(ops.rotate_webhook_secret())


class Keys(_Resource):
    async def list(self) -> builtins.list[ApiKey]:
        """The account's API keys by prefix, revoked ones too."""
        return await self._run(ops.list_keys())

    async def create(self) -> ApiKey:
        """A new key; its `key` is shown in this answer only."""
        return await self._run(ops.create_key())

    async def revoke(self, key_id: str) -> ApiKey:
        return await self._run(ops.revoke_key(key_id))


class Rundowns(_Resource):
    async def create(self, **fields: Unpack[RundownFields]) -> Rundown:
        """A rundown: `timers` (1 to 200 timer ids, in order), `title`, `auto_advance`
        (the next timer starts when the current one reaches zero; default false),
        `webhook_url` (for rundown.advanced and rundown.completed)."""
        return await self._run(ops.create_rundown(fields))

    def list(self, *, limit: int | None = None) -> AsyncPager[Rundown]:
        """The account's rundowns (without `items`)."""
        return AsyncPager(self._run, lambda cursor: ops.list_rundowns(limit, cursor))

    async def get(self, rundown_id: str) -> Rundown:
        return await self._run(ops.get_rundown(rundown_id))

    async def update(self, rundown_id: str, *, expected_version: int | None = None,
               **fields: Unpack[RundownFields]) -> Rundown:
        return await self._run(ops.update_rundown(rundown_id, fields, expected_version))

    async def delete(self, rundown_id: str, *, expected_version: int | None = None) -> None:
        """Delete the rundown; its timers stay."""
        await self._run(ops.delete_rundown(rundown_id, expected_version))

    async def rotate_control_token(self, rundown_id: str) -> Rundown:
        """A new control token for the rundown's presenter page (`urls.control`)."""
        return await self._run(ops.rotate_rundown_token(rundown_id))

    async def advance(self, rundown_id: str, to: str = "next", *,
                expected_version: int | None = None,
                leaving: str | None = None) -> Rundown:
        """Make `to` ("next", "previous" or one of its timer ids) current and start it; with
        `leaving`, only if the show is still on that timer (ConflictError otherwise)."""
        return await self._run(ops.advance(rundown_id, to, expected_version, leaving))


__all__ = ["AsyncCastimer", "AsyncPager"]
