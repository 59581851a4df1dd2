"""`Castimer`: the synchronous client. Every method builds its call in `_operations` and sends
it through `_run`, which retries by `RetryPolicy`."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, Unpack

import httpx

from . import _operations as ops
from ._core import Call, RetryPolicy, connection_error, live_url, options, settle
from ._live import Clock, LiveStream
from ._models import Account, ApiKey, Delivery, Event, Page, Rundown, Timer, WebhookSecret
from ._operations import RundownFields, TimerCreate, TimerFields

T = TypeVar("T")


class Pager(Generic[T]):
    """Every item of a list, fetching the next page only when the last one is used up.
    `pages()` walks the pages themselves."""

    def __init__(self, run: Callable[[Call[Page[T]]], Page[T]],
                 page: Callable[[str | None], Call[Page[T]]]) -> None:
        self._run, self._page = run, page

    def pages(self) -> Iterator[Page[T]]:
        cursor: str | None = None
        while True:
            found = self._run(self._page(cursor))
            yield found
            if not found.has_more or not found.next_cursor:
                return
            cursor = found.next_cursor

    def __iter__(self) -> Iterator[T]:
        for found in self.pages():
            yield from found.data


class Castimer:
    """A client of one Castimer server.

    `api_key`: a `ck_live_…` key (default: `CASTIMER_API_KEY`); `base_url`: the server's
    address (default: `CASTIMER_BASE_URL`, else http://127.0.0.1:8000). `max_retries` and
    `max_retry_delay` bound the retries of 429 and 503 answers (see `RetryPolicy`); 0
    retries raises at once. `http_client` replaces the httpx client (proxies, transports).
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None,
                 timeout: float = 10.0, max_retries: int = 2, max_retry_delay: float = 60.0,
                 http_client: httpx.Client | None = None) -> None:
        self.base_url, self._api, self._headers = options(api_key, base_url)
        self.retry = RetryPolicy(max_retries=max_retries, max_delay=max_retry_delay)
        self._http = http_client or httpx.Client(timeout=timeout)
        self.timers = Timers(self)
        self.events = Events(self)
        self.deliveries = Deliveries(self)
        self.account = AccountResource(self)
        self.keys = Keys(self)
        self.rundowns = Rundowns(self)

    def _run(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, self._api + call.path,
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
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Castimer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Resource:
    def __init__(self, client: Castimer) -> None:
        self._client = client

    def _run(self, call: Call[T]) -> T:
        return self._client._run(call)


class Timers(_Resource):
    def create(self, **fields: Unpack[TimerCreate]) -> Timer:
        """A new timer: `type` ("countdown" with `duration`, "event" with `target_date`,
        "interval" with `work`, `rest`, `rounds`) and any of its other fields."""
        return self._run(ops.create_timer(fields))

    def list(self, *, limit: int | None = None) -> Pager[Timer]:
        """Every timer of the account, oldest first; `limit` is the page size."""
        return Pager(self._run, lambda cursor: ops.list_timers(limit, cursor))

    def get(self, timer_id: str) -> Timer:
        return self._run(ops.get_timer(timer_id))

    def update(self, timer_id: str, *, expected_version: int | None = None,
               **fields: Unpack[TimerFields]) -> Timer:
        """Change fields; None clears a nullable one (webhook_url, warn_at, start_at…)."""
        return self._run(ops.update_timer(timer_id, fields, expected_version))

    def start(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return self._run(ops.command(timer_id, "start", expected_version))

    def pause(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return self._run(ops.command(timer_id, "pause", expected_version))

    def resume(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return self._run(ops.command(timer_id, "resume", expected_version))

    def reset(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        return self._run(ops.command(timer_id, "reset", expected_version))

    def stop(self, timer_id: str, *, expected_version: int | None = None) -> Timer:
        """End a timer (in overtime, or running) as completed, with `timer.stopped`."""
        return self._run(ops.command(timer_id, "stop", expected_version))

    def set_state(self, timer_id: str, state: str, *,
                  expected_version: int | None = None) -> Timer:
        """Bring the timer to `state` (running, paused, idle, completed); no change if it
        is there already."""
        return self._run(ops.set_state(timer_id, state, expected_version))

    def adjust(self, timer_id: str, seconds: int, *,
               expected_version: int | None = None) -> Timer:
        """Add (positive) or remove (negative) time."""
        return self._run(ops.adjust(timer_id, seconds, expected_version))

    def set_message(self, timer_id: str, text: str, *, flash: bool = False,
                    expected_version: int | None = None) -> Timer:
        """Show `text` (1 to 280 characters) on every display of the timer."""
        return self._run(ops.set_message(timer_id, text, flash, expected_version))

    def clear_message(self, timer_id: str) -> Timer:
        return self._run(ops.clear_message(timer_id))

    def rotate_control_token(self, timer_id: str) -> Timer:
        """A new control token (in `urls.control`); presenters holding the old one are
        disconnected."""
        return self._run(ops.rotate_control_token(timer_id))

    def test_webhook(self, timer_id: str) -> Delivery:
        """Send a `webhook.test` delivery to the timer's webhook_url."""
        return self._run(ops.test_webhook(timer_id))

    def delete(self, timer_id: str, *, expected_version: int | None = None) -> None:
        self._run(ops.delete_timer(timer_id, expected_version))

    def live(self, timer_id: str, *, count_as_viewer: bool = True,
             clock: Clock | None = None) -> LiveStream:
        """The timer as it changes: an async iterator (run it in asyncio) of `LiveUpdate`s,
        reconnecting by itself (see `LiveStream`). `count_as_viewer=False`: not counted in the
        timer's `viewers`. `clock` replaces this machine's wall clock (epoch ms)."""
        return LiveStream(live_url(self._client.base_url, timer_id, count_as_viewer),
                          clock=clock)


class Events(_Resource):
    def list(self, *, timer_id: str | None = None, limit: int | None = None) -> Pager[Event]:
        """The account's event log, oldest first; `timer_id` narrows it to one timer."""
        return Pager(self._run, lambda cursor: ops.list_events(timer_id, limit, cursor))


class Deliveries(_Resource):
    def list(self, timer_id: str, *, limit: int | None = None) -> Pager[Delivery]:
        """A timer's webhook deliveries, newest first."""
        return Pager(self._run, lambda cursor: ops.list_deliveries(timer_id, limit, cursor))

    def get(self, delivery_id: str) -> Delivery:
        """A delivery with its payload and every attempt."""
        return self._run(ops.get_delivery(delivery_id))

    def retry(self, delivery_id: str) -> Delivery:
        """Send a finished delivery again, with the whole retry schedule."""
        return self._run(ops.retry_delivery(delivery_id))


class AccountResource(_Resource):
    def get(self) -> Account:
        """Plan, limits, today's usage and the webhook signing secret."""
        return self._run(ops.get_account())

    def rotate_webhook_secret(self) -> WebhookSecret:
        """A new signing secret; the old one signs beside it for 24 hours."""
        return self._run(ops.rotate_webhook_secret())


class Keys(_Resource):
    def list(self) -> builtins.list[ApiKey]:
        """The account's API keys by prefix, revoked ones too."""
        return self._run(ops.list_keys())

    def create(self) -> ApiKey:
        """A new key; its `key` is shown in this answer only."""
        return self._run(ops.create_key())

    def revoke(self, key_id: str) -> ApiKey:
        return self._run(ops.revoke_key(key_id))


class Rundowns(_Resource):
    def create(self, **fields: Unpack[RundownFields]) -> Rundown:
        """A rundown: `timers` (1 to 200 timer ids, in order), `title`, `auto_advance`
        (the next timer starts when the current one reaches zero; default false),
        `webhook_url` (for rundown.advanced and rundown.completed)."""
        return self._run(ops.create_rundown(fields))

    def list(self, *, limit: int | None = None) -> Pager[Rundown]:
        """The account's rundowns (without `items`)."""
        return Pager(self._run, lambda cursor: ops.list_rundowns(limit, cursor))

    def get(self, rundown_id: str) -> Rundown:
        return self._run(ops.get_rundown(rundown_id))

    def update(self, rundown_id: str, *, expected_version: int | None = None,
               **fields: Unpack[RundownFields]) -> Rundown:
        return self._run(ops.update_rundown(rundown_id, fields, expected_version))

    def delete(self, rundown_id: str, *, expected_version: int | None = None) -> None:
        """Delete the rundown; its timers stay."""
        self._run(ops.delete_rundown(rundown_id, expected_version))

    def rotate_control_token(self, rundown_id: str) -> Rundown:
        """A new control token for the rundown's presenter page (`urls.control`)."""
        return self._run(ops.rotate_rundown_token(rundown_id))

    def advance(self, rundown_id: str, to: str = "next", *,
                expected_version: int | None = None,
                leaving: str | None = None) -> Rundown:
        """Make `to` ("next", "previous" or one of its timer ids) current and start it; with
        `leaving`, only if the show is still on that timer (ConflictError otherwise)."""
        return self._run(ops.advance(rundown_id, to, expected_version, leaving))


__all__ = ["Castimer", "Pager"]
