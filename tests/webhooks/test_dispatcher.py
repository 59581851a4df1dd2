"""The dispatcher in this process, over a real engine and a real receiver on loopback."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from server import accounts, ids
from server.clock import now_ms
from server.engines.base import SUCCEEDED, DeliveryRecord, EngineUnavailable
from server.webhooks.dispatcher import Dispatcher, http_clients
from tests.conftest import opened, sqlite_url
from tests.waiting import SwallowedCancellation, until
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.anyio


async def test_a_stopping_dispatcher_records_the_attempts_it_made(tmp_path):
    """Stopped while outcomes wait to be written (the write is slowed on purpose: the real
    engine's finish, 0.5 s later), it writes them before it ends, so a restart does not send
    those deliveries again."""
    async with opened(sqlite_url(tmp_path)) as engine:
        finish = engine.finish_deliveries

        async def slow_finish(outcomes):
            await asyncio.sleep(0.5)
            await finish(outcomes)

        engine.finish_deliveries = slow_finish
        account = await accounts.add_account(engine, "a", "pro", now_ms())
        with Receiver() as receiver:
            records = [DeliveryRecord(ids.delivery_id(f"tmr_{n}"), account.id, f"tmr_{n}", "evt_x",
                                      receiver.url("/hook"), orjson.dumps({"event": "x"}),
                                      now_ms()) for n in range(20)]
            await engine.add_deliveries(records, now_ms())
            dispatcher = Dispatcher(engine, http_clients(20, 2, True), timeout_s=2, lease_s=60)
            running = asyncio.create_task(dispatcher.run())
            await until(lambda: dispatcher.sent == len(records))
            assert dispatcher.sent == len(records)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            await dispatcher.aclose()
        found = [await engine.get_delivery(r.id) for r in records]
        assert [attempts[0].status_code for _, attempts in found] == [200] * len(records)
        assert [delivery.status for delivery, _ in found] == [SUCCEEDED] * len(records)
        assert await engine.claim_deliveries(now_ms() + 120_000, 100, 1000) == []


async def test_an_attempt_the_client_cannot_even_make_is_recorded_as_failed(tmp_path):
    """A host name httpx cannot encode raises outside httpx's own errors: the attempt is still
    recorded and scheduled again, not lost to be resent forever when its lease runs out."""
    async with opened(sqlite_url(tmp_path)) as engine:
        account = await accounts.add_account(engine, "a", "pro", now_ms())
        record = DeliveryRecord(ids.delivery_id("tmr_x"), account.id, "tmr_x", "evt_x",
                                "https://xn--a.com/hook", orjson.dumps({"event": "x"}),
                                now_ms())
        await engine.add_deliveries([record], now_ms())
        dispatcher = Dispatcher(engine, http_clients(2, 2, False), timeout_s=2, lease_s=60)
        running = asyncio.create_task(dispatcher.run())
        try:
            for _ in range(200):
                delivery, attempts = await engine.get_delivery(record.id)
                if attempts:
                    break
                await asyncio.sleep(0.02)
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            await dispatcher.aclose()
        [attempt] = attempts
        assert attempt.status_code is None
        assert attempt.error == "the request could not be made (InvalidCodepoint)"
        assert delivery.status == "pending" and delivery.due_ms > now_ms() + 30_000


async def test_a_subscription_refused_at_start_leaves_the_dispatcher_polling_and_retrying(
        tmp_path):
    """A store that cannot confirm the outbox's wake-ups at start (a cluster's masters slow to
    confirm did it once) must not end the dispatcher: it sends on its poll and subscribes at a
    later round. The refusal is injected into the real engine: a real one cannot be timed."""
    async with opened(sqlite_url(tmp_path)) as engine:
        subscribe, calls = engine.subscribe, []

        async def refused_once(channel, receiver):
            calls.append(channel)
            if len(calls) == 1:
                raise EngineUnavailable("redis: subscription not confirmed")
            await subscribe(channel, receiver)

        engine.subscribe = refused_once
        account = await accounts.add_account(engine, "a", "pro", now_ms())
        with Receiver() as receiver:
            record = DeliveryRecord(ids.delivery_id("tmr_x"), account.id, "tmr_x", "evt_x",
                                    receiver.url("/hook"), orjson.dumps({"event": "x"}),
                                    now_ms())
            await engine.add_deliveries([record], now_ms())
            dispatcher = Dispatcher(engine, http_clients(4, 2, True), timeout_s=2, lease_s=60,
                                    poll_s=0.05)
            running = asyncio.create_task(dispatcher.run())
            try:
                # Polled: the receiver's own wait would block this loop.
                await until(lambda: receiver.at("/hook") and len(calls) == 2)
                assert len(receiver.at("/hook")) == 1
                assert calls == ["outbox", "outbox"]
                assert not running.done()
            finally:
                running.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await running
                await dispatcher.aclose()


async def test_a_cancellation_swallowed_below_the_dispatcher_still_stops_it(tmp_path):
    """As the scheduler's: a store call that takes the cancellation and returns must not keep
    the dispatcher, and a shutdown waiting for it, going."""
    swallow = SwallowedCancellation()
    async with opened(sqlite_url(tmp_path)) as engine:
        claim = engine.claim_deliveries

        async def swallowing_claim(now, limit, lease_ms):
            await swallow.once()
            return await claim(now, limit, lease_ms)

        engine.claim_deliveries = swallowing_claim
        dispatcher = Dispatcher(engine, http_clients(2, 2, False), timeout_s=2, lease_s=60,
                                poll_s=0.05)
        stopped = await swallow.cancel(asyncio.create_task(dispatcher.run()))
        await dispatcher.aclose()
        assert stopped
