"""Sends the outbox: claims due deliveries, POSTs them signed, records every attempt, and
schedules the next one. Any number of dispatchers may run over one engine (one per process);
the engine's claim gives each delivery to one of them at a time, under a lease that another
takes over if its holder dies. Delivery is therefore at-least-once: a receiver may see a
delivery twice after a crash, always with the same delivery id (`webhook-id`).

Woken by the commit's publish on the outbox channel, so a first attempt leaves within
milliseconds of the commit; a poll of at most `poll_s` is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import httpx
import orjson

from .. import commit, metrics, settings, timers
from ..clock import now_ms as wall_clock
from ..engines import outage
from ..engines.base import (
    OUTBOX_CHANNEL,
    Attempt,
    ClaimedDelivery,
    EngineUnavailable,
    Outbox,
    Outcome,
    PubSub,
    Store,
)
from ..wake import Wake
from . import retries, signing
from .urls import UnsafeTarget, guarded_transport

log = logging.getLogger("castimer.webhooks")

#: Connections per HTTP client. httpx's pool does work per request that grows with the number of
#: connections it holds: one client with 100 connections sent ~180 requests/s on one core where
#: twelve clients of 8 sent ~1,500 (docs/performance.md). So attempts take turns over several
#: small clients.
CONNECTIONS_PER_CLIENT = 8
#: The most of a response that is read, and the part of it that is kept per attempt.
READ_LIMIT = 64 * 1024
KEEP = 2 * 1024
#: How long a stopping dispatcher may take to record the attempts it made.
STOP_GRACE_S = 5.0


def secrets_of(claimed: ClaimedDelivery, now_ms: int) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    account = claimed.account
    found = [account.webhook_secret]
    if account.previous_webhook_secret and (account.previous_secret_expires_ms or 0) > now_ms:
        found.append(account.previous_webhook_secret)
    return found


class DispatcherEngine(Outbox, PubSub, Store, Protocol):
    """What a dispatcher uses of an engine: the outbox, the wake-ups on OUTBOX_CHANNEL, and the
    store's commit path (to clear a webhook_url its receiver answered 410 Gone)."""


class Dispatcher:
    def __init__(self, engine: DispatcherEngine, clients: Sequence[httpx.AsyncClient], *,
                 clock: Callable[[], int] = wall_clock,
                 schedule: tuple[float, ...] = retries.DEFAULT_SCHEDULE,
                 timeout_s: float = 10.0, lease_s: float = 30.0, poll_s: float = 1.0,
                 concurrency: int = 100) -> None:
        if lease_s <= timeout_s or concurrency < 1:
            raise ValueError("a dispatcher needs a lease longer than its timeout and a "
                             "concurrency of at least 1")
        self.engine = engine
        self.clients = clients
        self._turn = 0
        self.clock = clock
        self.schedule = schedule
        self.timeout_s = timeout_s
        self.lease_ms = round(lease_s * 1000)
        self.poll_s = poll_s
        self.concurrency = concurrency
        self.sent = 0  # attempts made by this dispatcher (for tests and operators)
        self._wake = Wake()
        self._attempts: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._recorded = asyncio.Event()
        self._stopping = False

    async def aclose(self) -> None:
        """Close the HTTP clients (after `run` has ended)."""
        for client in self.clients:
            await client.aclose()

    def _on_outbox(self, message: bytes) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled."""
        subscribed = False
        recorder = asyncio.create_task(self._record(), name="castimer-webhook-recorder")
        try:
            while True:
                self._wake.arm()  # before looking: a wake-up during the look is kept
                try:
                    if not subscribed:
                        subscribed = await self._subscribe()
                    delay = await self._dispatch_due()
                    outage.of(self.engine).answered("webhooks")
                except EngineUnavailable as exc:
                    outage.of(self.engine).failed(exc, "webhooks")
                    delay = self.poll_s
                except Exception:
                    log.exception("webhooks: unexpected error; retrying")
                    delay = self.poll_s
                await self._wake.sleep(delay)
        finally:
            for task in list(self._attempts):
                task.cancel()
            # Attempts that were made but not yet recorded are recorded before stopping, so
            # a restart does not send them again (if that fails, their leases run out).
            self._stopping = True
            self._recorded.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE_S):
                    await recorder
            if subscribed:
                await self.engine.unsubscribe(OUTBOX_CHANNEL, self._on_outbox)

    async def _subscribe(self) -> bool:
        """Subscribe to the outbox's wake-ups; False if the store could not confirm it now.
        The dispatcher then runs on its poll and tries again at the next round: a
        subscription that fails at start must not leave a process without webhooks (it did:
        the task ended, and the process served on without sending any)."""
        try:
            await self.engine.subscribe(OUTBOX_CHANNEL, self._on_outbox)
        except EngineUnavailable:
            log.warning("webhooks: no wake-ups from other processes yet; polling meanwhile")
            return False
        return True

    async def _dispatch_due(self) -> float:
        """Start an attempt for every claimable delivery; how long to sleep until the next."""
        free = self.concurrency - len(self._attempts)
        if free <= 0:
            return self.poll_s  # every slot busy: a finished attempt wakes us
        claimed = await self.engine.claim_deliveries(self.clock(), free, self.lease_ms)
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery))
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
        if len(claimed) == free:
            return 0.0  # more may be waiting
        upcoming = await self.engine.next_delivery_ms()
        if upcoming is None:
            return self.poll_s
        # Due but not claimable (its timer has one in flight): the finish wakes us.
        wait = (upcoming - self.clock()) / 1000
        return self.poll_s if wait <= 0 else min(self.poll_s, wait)

    async def _attempt(self, claimed: ClaimedDelivery) -> None:
        delivery = claimed.delivery
        started, began = self.clock(), time.perf_counter()
        status_code, response, error, retry_after = await self._post(claimed, started)
        attempt = Attempt(delivery.attempts + 1, started,
                          round((time.perf_counter() - began) * 1000), status_code, response,
                          error)
        status, due = retries.next_step(delivery.run_attempts + 1, status_code, retry_after,
                                        self.clock(), self.schedule)
        self.sent += 1
        metrics.webhook_attempt(status_code, delivery.created_at_ms, self.clock())
        self._outcomes.append(Outcome(delivery.id, claimed.claim, attempt, status, due,
                                      gone=status_code == 410))
        self._recorded.set()
        self._wake.set()  # a slot is free: claim more while this outcome is being recorded
        if status_code == 410:
            await self._stop_timer_webhook(delivery.timer_id, delivery.url)

    async def _post(self, claimed: ClaimedDelivery, now: int
                    ) -> tuple[int | None, str, str | None, float | None]:
        """One POST: (status code, response excerpt, error, Retry-After seconds)."""
        delivery = claimed.delivery
        secrets = secrets_of(claimed, now)
        body = signing.signed_body(delivery.body, secrets[0])
        event = orjson.loads(delivery.body).get("event", "")
        headers = signing.headers(delivery.id, event, body, secrets, now // 1000)
        self._turn += 1
        client = self.clients[self._turn % len(self.clients)]
        try:
            async with asyncio.timeout(self.timeout_s):
                async with client.stream("POST", delivery.url, content=body,
                                              headers=headers) as answer:
                    excerpt = await _read_some(answer)
        except TimeoutError:
            return None, "", f"no complete answer within {self.timeout_s:g} s", None
        except UnsafeTarget as exc:
            return None, "", str(exc), None
        except httpx.HTTPError as exc:
            return None, "", f"{type(exc).__name__}: {exc}" if str(exc) else \
                type(exc).__name__, None
        except Exception as exc:
            # Whatever else the URL or the answer makes the client raise (a host name it cannot
            # encode, say) is a failed attempt, recorded and retried like any other, never an
            # attempt that vanishes and is sent again when its lease runs out.
            log.warning("webhooks: attempt of %s failed: %r", delivery.id, exc)
            return None, "", f"the request could not be made ({type(exc).__name__})", None
        code = answer.status_code
        error = None if 200 <= code < 300 else f"HTTP {code}" + (
            " (redirects are not followed)" if 300 <= code < 400 else "")
        return code, excerpt, error, retries.retry_after_s(answer.headers.get("retry-after"),
                                                          self.clock())

    async def _stop_timer_webhook(self, timer_id: str, url: str) -> None:
        """410 Gone: the receiver wants no more, so the timer's webhook_url is cleared (through
        the commit path, visible to its owner); setting it again starts deliveries again."""

        def clear(t: timers.Timer, now: int) -> timers.Change | None:
            return timers.edit(t, {"webhook_url": None}, now) if t.webhook_url == url else None

        try:
            await commit.change_timer(self.engine, timer_id, None, clear, clock=self.clock)
        except commit.TimerNotFound:
            pass
        except Exception:
            log.exception("webhooks: could not clear the webhook_url of %s after 410", timer_id)

    async def _record(self) -> None:
        """Write outcomes in batches: under load one transaction carries many attempts."""
        while True:
            if not self._outcomes:
                if self._stopping:
                    return
                await self._recorded.wait()
                self._recorded.clear()
                continue
            batch, self._outcomes = self._outcomes, []
            while True:
                try:
                    await self.engine.finish_deliveries(batch)
                    outage.of(self.engine).answered("webhook outcomes")
                    break
                except EngineUnavailable as exc:
                    if self._stopping:
                        return
                    outage.of(self.engine).failed(exc, "webhook outcomes")
                    await asyncio.sleep(self.poll_s)
                except Exception:
                    # Not the store being away: one outcome it refuses must not hold back the
                    # others, so each is written alone and one that still fails is dropped
                    # (its delivery is sent again when the lease runs out).
                    log.exception("webhooks: recording attempts failed; writing them one by one")
                    for outcome in batch:
                        try:
                            await self.engine.finish_deliveries([outcome])
                        except Exception:
                            log.exception("webhooks: cannot record attempt of %s",
                                          outcome.delivery_id)
                    break
            self._wake.set()  # their timers are free for their next delivery


async def _read_some(answer: httpx.Response) -> str:
    """Read at most READ_LIMIT bytes of the body (raw: a compressed answer is not inflated);
    return the first KEEP as text."""
    kept, read = bytearray(), 0
    async for chunk in answer.aiter_raw():
        if len(kept) < KEEP:
            kept += chunk[:KEEP - len(kept)]
        read += len(chunk)
        if read >= READ_LIMIT:
            break
    return kept.decode("utf-8", "replace")


def http_clients(concurrency: int, timeout_s: float,
                 allow_private: bool) -> list[httpx.AsyncClient]:
    """The clients every delivery goes through, `concurrency` connections in all: the
    connect-time SSRF guard, no redirects, no environment proxies, the timeout."""
    size = min(concurrency, CONNECTIONS_PER_CLIENT)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    tls = httpx.create_ssl_context(trust_env=False)
    return [httpx.AsyncClient(transport=guarded_transport(allow_private, limits,
                                                          ssl_context=tls),
                              timeout=timeout_s, follow_redirects=False, trust_env=False)
            for _ in range(-(-concurrency // size))]


def from_settings(engine: DispatcherEngine) -> Dispatcher:
    """A dispatcher with its clients, as the settings say; `aclose()` it when done."""
    return Dispatcher(engine, http_clients(settings.WEBHOOK_CONCURRENCY,
                                           settings.WEBHOOK_TIMEOUT,
                                           settings.ALLOW_PRIVATE_WEBHOOKS),
                      schedule=settings.WEBHOOK_RETRY_SCHEDULE,
                      timeout_s=settings.WEBHOOK_TIMEOUT, lease_s=settings.WEBHOOK_LEASE,
                      poll_s=settings.WEBHOOK_POLL, concurrency=settings.WEBHOOK_CONCURRENCY)
