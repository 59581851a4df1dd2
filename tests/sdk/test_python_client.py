"""The Python client (sdk/python) against a real `castimer serve`: every operation, sync and
async; retries and errors; the live stream through pause, resume, a skewed clock and a
server restart; webhook verification of real deliveries; mypy --strict; and a fresh venv's
`pip install ./sdk/python` running the README's quick start."""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from castimer_client import (
    AsyncCastimer,
    AuthenticationError,
    Castimer,
    ConflictError,
    LiveStream,
    LiveUpdate,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    Timer,
    ValidationError,
    WebhookVerificationError,
    verify_webhook,
)
from castimer_client._core import Call, RetryPolicy

from tests.conftest import sqlite_url
from tests.sdk.conftest import SDK
from tests.servers import RedisServer, Server, free_port, make_key

ROOT = SDK.parents[1]


def sync_client(server: Server, key: str, **options: Any) -> Castimer:
    return Castimer(api_key=key, base_url=server.base, **options)


def async_client(server: Server, key: str, **options: Any) -> AsyncCastimer:
    return AsyncCastimer(api_key=key, base_url=server.base, **options)


def until(check: Any, timeout: float = 10) -> Any:
    """Poll `check()` until it returns something true (a delivery's outcome is only visible
    by asking)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


# Timers, every command, sync and async


def test_every_timer_operation_sync(sdk_server, sdk_key):
    with sync_client(sdk_server, sdk_key) as sdk:
        timer = sdk.timers.create(type="countdown", duration=120, title="Keynote",
                                  warn_at=60, danger_at=30, overtime=True)
        assert isinstance(timer, Timer) and timer.id.startswith("tmr_")
        assert (timer.state, timer.duration, timer.warn_at, timer.level) == (
            "idle", 120, 60, "normal")
        assert isinstance(timer.created_at, datetime) and timer.urls is not None
        assert timer.urls.widget.endswith(f"/widget?timer={timer.id}")
        other = sdk.timers.create(type="interval", work=20, rest=10, rounds=2)
        assert [t.id for t in sdk.timers.list(limit=1)] == [timer.id, other.id]
        assert [len(p.data) for p in sdk.timers.list(limit=1).pages()] == [1, 1]
        assert sdk.timers.get(timer.id).title == "Keynote"

        edited = sdk.timers.update(timer.id, title="Closing", warn_at=None,
                                   expected_version=timer.version)
        assert (edited.title, edited.warn_at) == ("Closing", None)
        started = sdk.timers.start(timer.id)
        assert started.state == "running" and isinstance(started.started_at, datetime)
        assert sdk.timers.pause(timer.id).state == "paused"
        assert sdk.timers.resume(timer.id).state == "running"
        adjusted = sdk.timers.adjust(timer.id, 60)
        assert adjusted.adjustment == 60 and adjusted.remaining_ms > 120_000
        shown = sdk.timers.set_message(timer.id, "Wrap up", flash=True)
        assert shown.message is not None and (shown.message.text, shown.message.flash) == (
            "Wrap up", True)
        assert isinstance(shown.message.at, datetime)
        assert sdk.timers.clear_message(timer.id).message is None
        paused = sdk.timers.set_state(timer.id, "paused")
        assert sdk.timers.set_state(timer.id, "paused").version == paused.version  # no change
        sdk.timers.set_state(timer.id, "running")
        assert sdk.timers.stop(timer.id).state == "completed"
        assert sdk.timers.reset(timer.id).state == "idle"
        control = edited.urls.control if edited.urls else ""
        rotated = sdk.timers.rotate_control_token(timer.id)
        assert rotated.urls is not None and rotated.urls.control != control

        async def snapshot() -> LiveUpdate:  # the sync client's stream is asyncio's too
            async with sdk.timers.live(timer.id) as stream:
                return await next_of(stream, "snapshot")

        assert asyncio.run(snapshot()).version == rotated.version

        assert sdk.timers.delete(timer.id) is None
        with pytest.raises(NotFoundError) as missing:
            sdk.timers.get(timer.id)
        assert missing.value.status == 404 and missing.value.param == "id"


@pytest.mark.anyio
async def test_every_timer_operation_async(sdk_server, sdk_key):
    async with async_client(sdk_server, sdk_key) as sdk:
        timer = await sdk.timers.create(type="countdown", duration=120, overtime=True)
        other = await sdk.timers.create(type="event", target_date="2030-01-01T00:00:00Z",
                                        timezone="Europe/Paris")
        assert isinstance(other.target_date, datetime) and other.state == "running"
        assert [t.id async for t in sdk.timers.list(limit=1)] == [timer.id, other.id]
        assert [len(p.data) async for p in sdk.timers.list(limit=1).pages()] == [1, 1]
        assert (await sdk.timers.get(timer.id)).id == timer.id
        assert (await sdk.timers.update(timer.id, title="Q&A")).title == "Q&A"
        assert (await sdk.timers.start(timer.id)).state == "running"
        assert (await sdk.timers.pause(timer.id)).state == "paused"
        assert (await sdk.timers.resume(timer.id)).state == "running"
        assert (await sdk.timers.adjust(timer.id, -30)).adjustment == -30
        message = (await sdk.timers.set_message(timer.id, "Two minutes")).message
        assert message is not None and (message.text, message.flash) == ("Two minutes", False)
        assert (await sdk.timers.clear_message(timer.id)).message is None
        assert (await sdk.timers.set_state(timer.id, "paused")).state == "paused"
        await sdk.timers.set_state(timer.id, "running")
        assert (await sdk.timers.stop(timer.id)).state == "completed"
        assert (await sdk.timers.reset(timer.id)).state == "idle"
        assert (await sdk.timers.rotate_control_token(timer.id)).urls is not None
        await sdk.timers.delete(timer.id)
        with pytest.raises(NotFoundError):
            await sdk.timers.get(timer.id)


def test_a_timers_control_token_runs_its_commands_and_nothing_else(sdk_server, sdk_key):
    with sync_client(sdk_server, sdk_key) as sdk:
        timer = sdk.timers.create(type="countdown", duration=60)
    assert timer.control_token is not None and timer.control_token.startswith("ctl_")
    with sync_client(sdk_server, timer.control_token) as device:
        assert device.timers.start(timer.id).state == "running"
        assert device.timers.adjust(timer.id, 60).adjustment == 60
        assert device.timers.set_message(timer.id, "Wrap up").message is not None
        assert device.timers.get(timer.id).state == "running"
        with pytest.raises(NotFoundError):
            list(device.timers.list())


# Events, deliveries, account, keys


def test_events_deliveries_account_and_keys_sync(sdk_server, sdk_key, receiver):
    with sync_client(sdk_server, sdk_key) as sdk:
        timer = sdk.timers.create(type="countdown", duration=60,
                                  webhook_url=receiver.url("/sync"))
        sdk.timers.start(timer.id)
        sdk.timers.pause(timer.id)
        names = [e.event for e in sdk.events.list(timer_id=timer.id, limit=1)]
        assert names == ["timer.started", "timer.paused"]
        [first, *_] = sdk.events.list()
        assert first.timer_id == timer.id and isinstance(first.timestamp, datetime)
        assert first.data["state"] == "running"

        test = sdk.timers.test_webhook(timer.id)
        assert (test.event, test.status) == ("webhook.test", "pending")
        receiver.wait("/sync", 3)  # started, paused, the test
        done = until(lambda: (d := sdk.deliveries.get(test.id)).status == "succeeded" and d)
        assert done.payload is not None and done.payload["event"] == "webhook.test"
        assert done.attempts[0].status_code == 200 and isinstance(done.attempts[0].at, datetime)
        listed = list(sdk.deliveries.list(timer.id, limit=2))
        assert [d.event for d in listed] == ["webhook.test", "timer.paused", "timer.started"]
        retried = sdk.deliveries.retry(test.id)
        assert retried.status == "pending"
        receiver.wait("/sync", 4)

        account = sdk.account.get()
        assert account.plan == "enterprise" and account.limits.requests_per_minute == 600
        assert account.limits.requests_per_day is None and account.usage.requests_today > 0
        assert account.webhook_secret.startswith("whsec_")
        rotated = sdk.account.rotate_webhook_secret()
        assert rotated.webhook_secret not in ("", account.webhook_secret)
        assert isinstance(rotated.previous_webhook_secret_expires_at, datetime)

        [mine] = sdk.keys.list()
        assert mine.current and mine.prefix and mine.key is None
        made = sdk.keys.create()
        assert made.key is not None and made.key.startswith("ck_live_")
        with sync_client(sdk_server, made.key) as second:
            assert second.account.get().id == account.id
            assert sdk.keys.revoke(made.id).revoked_at is not None
            with pytest.raises(AuthenticationError):
                second.account.get()


@pytest.mark.anyio
async def test_events_deliveries_account_and_keys_async(sdk_server, sdk_key, receiver):
    async with async_client(sdk_server, sdk_key) as sdk:
        timer = await sdk.timers.create(type="countdown", duration=60,
                                        webhook_url=receiver.url("/async"))
        await sdk.timers.start(timer.id)
        assert [e.event async for e in sdk.events.list(timer_id=timer.id)] == ["timer.started"]
        test = await sdk.timers.test_webhook(timer.id)
        await asyncio.to_thread(receiver.wait, "/async", 2)
        for _ in range(200):
            done = await sdk.deliveries.get(test.id)
            if done.status == "succeeded":
                break
            await asyncio.sleep(0.05)
        assert done.status == "succeeded" and done.attempt_count == 1
        ids = [d.id async for d in sdk.deliveries.list(timer.id)]
        assert len(ids) == 2 and ids[0] == test.id  # newest first, after timer.started
        assert (await sdk.deliveries.retry(test.id)).status == "pending"

        account = await sdk.account.get()
        assert account.plan == "enterprise"
        assert (await sdk.account.rotate_webhook_secret()).webhook_secret.startswith("whsec_")
        made = await sdk.keys.create()
        keys = await sdk.keys.list()
        assert len(keys) == 2 and made.id in [k.id for k in keys]
        assert (await sdk.keys.revoke(made.id)).revoked_at is not None


# Rundowns


def test_every_rundown_operation_sync(sdk_server, sdk_key):
    with sync_client(sdk_server, sdk_key) as sdk:
        ids = [sdk.timers.create(type="countdown", duration=60, title=f"Part {n}").id
               for n in (1, 2, 3)]
        show = sdk.rundowns.create(title="Show", timers=ids, auto_advance=False)
        assert (show.current, show.next, show.auto_advance) == (ids[0], ids[1], False)
        assert show.id.startswith("rnd_") and show.urls is not None
        assert show.urls.stage.endswith(f"/stage/{show.id}")
        assert [(i.id, i.planned, i.state) for i in show.items] == [
            (t, 60, "idle") for t in ids]
        other = sdk.rundowns.create(timers=ids[:1])
        assert [r.id for r in sdk.rundowns.list(limit=1)] == [show.id, other.id]
        assert sdk.rundowns.get(show.id).title == "Show"

        edited = sdk.rundowns.update(show.id, title="Gala", timers=[ids[2], ids[0], ids[1]],
                                     expected_version=show.version)
        assert (edited.title, edited.timers) == ("Gala", [ids[2], ids[0], ids[1]])
        moved = sdk.rundowns.advance(show.id, ids[0])
        assert moved.current == ids[0] and sdk.timers.get(ids[0]).state == "running"
        after = sdk.rundowns.advance(show.id, expected_version=moved.version)  # "next"
        assert after.current == ids[1] and sdk.timers.get(ids[1]).state == "running"
        with pytest.raises(ConflictError):
            sdk.rundowns.advance(show.id, "previous", expected_version=moved.version)
        assert sdk.rundowns.advance(show.id, "previous").current == ids[0]
        with pytest.raises(ConflictError):  # the show is on ids[0], not ids[1]
            sdk.rundowns.advance(show.id, leaving=ids[1])
        with sync_client(sdk_server, show.control_token or "") as desk:  # a rundown's token
            assert desk.rundowns.advance(show.id).current == ids[1]
            shown = desk.rundowns.get(show.id)
            [current] = [i for i in shown.items if i.id == shown.current]
            assert shown.webhook_url is None and current.state == "running"
            assert "control_token" not in current.extra  # no timer's token comes with a show
            with pytest.raises(NotFoundError):
                list(desk.rundowns.list())
            rotated = sdk.rundowns.rotate_control_token(show.id)
            with pytest.raises(NotFoundError):  # a rotated-out token is refused as unknown
                desk.rundowns.get(show.id)
        assert rotated.urls is not None and show.urls.control != rotated.urls.control

        sdk.rundowns.delete(show.id, expected_version=rotated.version)
        with pytest.raises(NotFoundError):
            sdk.rundowns.get(show.id)
        assert sdk.timers.get(ids[0]).id == ids[0]  # its timers stay


@pytest.mark.anyio
async def test_every_rundown_operation_async(sdk_server, sdk_key):
    async with async_client(sdk_server, sdk_key) as sdk:
        ids = [(await sdk.timers.create(type="countdown", duration=60)).id for _ in range(2)]
        show = await sdk.rundowns.create(timers=ids, auto_advance=True)
        assert show.auto_advance and show.current == ids[0]
        assert [r.id async for r in sdk.rundowns.list()] == [show.id]
        assert (await sdk.rundowns.get(show.id)).items[1].id == ids[1]
        assert (await sdk.rundowns.update(show.id, auto_advance=False)).auto_advance is False
        assert (await sdk.rundowns.advance(show.id)).current == ids[1]
        assert (await sdk.rundowns.rotate_control_token(show.id)).urls is not None
        await sdk.rundowns.delete(show.id)
        with pytest.raises(NotFoundError):
            await sdk.rundowns.get(show.id)


# Errors and retries


def test_errors_are_typed_and_carry_the_servers_message_and_param(sdk_server, sdk_key):
    with sync_client(sdk_server, sdk_key) as sdk:
        with pytest.raises(ValidationError) as invalid:
            sdk.timers.create(type="countdown", duration=0)
        assert (invalid.value.status, invalid.value.param) == (422, "duration")
        assert "duration" in invalid.value.message
        with pytest.raises(ValidationError) as unknown:
            sdk.timers.create(type="countdown", duration=5, colour="red")
        assert (unknown.value.status, unknown.value.param) == (400, "colour")
        timer = sdk.timers.create(type="countdown", duration=60)
        with pytest.raises(ConflictError) as stale:
            sdk.timers.start(timer.id, expected_version=timer.version + 5)
        assert stale.value.current_version == timer.version
        with pytest.raises(ValidationError) as transition:
            sdk.timers.pause(timer.id)  # idle: nothing to pause
        assert transition.value.status == 422
    with pytest.raises(AuthenticationError) as refused, sync_client(
            sdk_server, "ck_live_" + "x" * 40) as stranger:
        stranger.account.get()
    assert refused.value.status == 401


def test_unknown_fields_from_a_newer_server_are_kept_not_fatal():
    timer = Timer.from_json({"id": "tmr_1", "state": "running", "remaining_ms": 5000,
                             "laps": [1, 2], "message": {"text": "hi", "colour": "red"}})
    assert (timer.id, timer.remaining_ms, timer.extra) == ("tmr_1", 5000, {"laps": [1, 2]})
    assert timer.message is not None and timer.message.extra == {"colour": "red"}
    assert Timer.from_json({"id": "tmr_2"}).state == "idle"  # an older server's missing field


def _answer(status: int, retry_after: str | None = None) -> httpx.Response:
    return httpx.Response(status, headers={"Retry-After": retry_after} if retry_after else {})


@pytest.mark.parametrize(("idempotent", "status", "retry_after", "attempt", "waits"), [
    (False, 429, "3", 0, 3.0),   # a 429: the server did not act, so any call is retried
    (True, 429, "3", 0, 3.0),
    (True, 503, "2", 0, 2.0),    # a 503 is retried only where a repeat is harmless
    (False, 503, "2", 0, None),
    (True, 429, "3", 2, None),   # max_retries=2 used up
    (True, 429, "3600", 0, None),  # the daily cap: raise, do not sleep an hour
    (True, 500, None, 0, None),
    (True, 422, None, 0, None),
])
def test_retry_policy(idempotent, status, retry_after, attempt, waits):
    call = Call("POST", "/x", lambda body: body, idempotent=idempotent)
    wait = RetryPolicy(max_retries=2).after_response(call, attempt, _answer(status, retry_after))
    assert wait == waits


def test_a_refused_connection_is_retried_even_for_a_create_but_a_broken_one_is_not():
    policy, create = RetryPolicy(), Call("POST", "/timers", lambda body: body)
    refused = httpx.ConnectError("refused")
    assert policy.after_error(create, 0, refused) is not None
    assert policy.after_error(create, 0, httpx.ReadError("reset")) is None
    get = Call("GET", "/timers/x", lambda body: body, idempotent=True)
    assert policy.after_error(get, 0, httpx.ReadError("reset")) is not None


def _exhaust(server: Server, key: str) -> RateLimitError:
    """Spend a free account's minute budget; the error that ends the burst."""
    with sync_client(server, key, max_retries=0) as sdk, pytest.raises(RateLimitError) as hit:
        for _ in range(100):
            sdk.account.get()
    return hit.value


def test_a_free_plan_burst_raises_rate_limit_error_with_retry_after_when_retries_are_off(
        sdk_server):
    error = _exhaust(sdk_server, make_key(sdk_server.engine_url, plan="free"))
    assert error.status == 429 and error.type == "rate_limited"
    assert error.retry_after is not None and 1 <= error.retry_after <= 60
    assert error.headers["X-RateLimit-Remaining"] == "0"


def _recording(answers: list[tuple[int, float, str | None]]) -> dict[str, Any]:
    def record(response: httpx.Response) -> None:
        answers.append((response.status_code, time.monotonic(),
                        response.headers.get("retry-after")))
    return {"response": [record]}


def _retried_after_retry_after(answers: list[tuple[int, float, str | None]]) -> None:
    statuses = [status for status, _, _ in answers]
    assert statuses[0] == 429 and statuses[-1] == 201, statuses
    assert set(statuses[:-1]) == {429}
    (_, first_at, asked), (_, second_at, _) = answers[0], answers[1]
    assert asked is not None and second_at - first_at >= float(asked) - 0.05


def test_a_429_is_retried_after_retry_after_even_for_a_create(sdk_server):
    key = make_key(sdk_server.engine_url, plan="free")
    _exhaust(sdk_server, key)
    answers: list[tuple[int, float, str | None]] = []
    hooks = _recording(answers)
    with sync_client(sdk_server, key, max_retries=3,
                     http_client=httpx.Client(event_hooks=hooks)) as sdk:
        timer = sdk.timers.create(type="countdown", duration=60)
        _retried_after_retry_after(answers)
        assert [t.id for t in sdk.timers.list()] == [timer.id]  # created once


@pytest.mark.anyio
async def test_a_429_is_retried_after_retry_after_async(sdk_server):
    key = await asyncio.to_thread(make_key, sdk_server.engine_url, "free")
    await asyncio.to_thread(_exhaust, sdk_server, key)
    answers: list[tuple[int, float, str | None]] = []
    record = _recording(answers)["response"][0]

    async def hook(response: httpx.Response) -> None:
        record(response)

    async with async_client(sdk_server, key, max_retries=3, http_client=httpx.AsyncClient(
            event_hooks={"response": [hook]})) as sdk:
        await sdk.timers.create(type="countdown", duration=60)
    _retried_after_retry_after(answers)


def test_a_503_is_retried_for_a_read_but_not_for_a_create_or_an_unpinned_command(tmp_path):
    redis = RedisServer(tmp_path).start()
    server = Server(redis.url, tmp_path).start()
    answers: list[tuple[int, float, str | None]] = []
    try:
        with sync_client(server, make_key(redis.url), max_retries=2,
                         http_client=httpx.Client(event_hooks=_recording(answers))) as sdk:
            timer = sdk.timers.create(type="countdown", duration=60)
            redis.kill()  # the store is gone: every request is a 503
            for call, attempts in [(lambda: sdk.timers.get(timer.id), 3),
                                   (lambda: sdk.timers.set_state(timer.id, "running"), 3),
                                   (lambda: sdk.timers.create(type="countdown", duration=9), 1),
                                   (lambda: sdk.timers.start(timer.id), 1)]:
                answers.clear()
                with pytest.raises(ServiceUnavailableError) as unavailable:
                    call()
                assert [status for status, _, _ in answers] == [503] * attempts
                assert unavailable.value.type == "service_unavailable"
    finally:
        server.stop()
        redis.stop()


# Live


async def next_of(stream: LiveStream, kind: str, timeout: float = 5) -> LiveUpdate:
    """The next update of that type (presence counts may come between)."""
    deadline = time.monotonic() + timeout
    while True:
        update = await asyncio.wait_for(anext(stream), max(0.01, deadline - time.monotonic()))
        if update.type == kind:
            return update


@pytest.mark.anyio
async def test_live_follows_a_running_timer_through_pause_and_resume(sdk_server, sdk_key):
    async with async_client(sdk_server, sdk_key) as sdk:
        timer = await sdk.timers.create(type="countdown", duration=60)
        await sdk.timers.start(timer.id)
        async with sdk.timers.live(timer.id) as stream:
            snapshot = await next_of(stream, "snapshot")
            assert snapshot.timer is not None and snapshot.timer.state == "running"
            assert 55_000 < snapshot.remaining_ms <= 60_000 and not snapshot.resumed
            tick = await next_of(stream, "tick")
            assert tick.timer is not None and tick.timer.remaining_ms % 1000 == 0
            # Handed over just after its server_time: corrected by that delay, under a second.
            assert 0 <= tick.timer.remaining_ms - tick.remaining_ms < 1000

            paused = await sdk.timers.pause(timer.id)
            update = await next_of(stream, "state")
            assert update.event == "timer.paused" and update.version == paused.version
            assert update.timer is not None and update.timer.state == "paused"
            assert update.remaining_ms == update.timer.remaining_ms == paused.remaining_ms
            assert stream.remaining_ms() == paused.remaining_ms  # paused: it stays put

            await sdk.timers.resume(timer.id)
            resumed = await next_of(stream, "state")
            assert resumed.event == "timer.resumed" and resumed.timer is not None
            assert resumed.timer.state == "running"
            after = await next_of(stream, "tick")
            assert after.remaining_ms < paused.remaining_ms
            assert after.version == resumed.version


@pytest.mark.anyio
async def test_live_applies_the_measured_clock_offset_to_remaining_ms(sdk_server, sdk_key):
    skew = 45_000  # this "machine" runs 45 s fast

    async with async_client(sdk_server, sdk_key) as sdk:
        timer = await sdk.timers.create(type="countdown", duration=120)
        await sdk.timers.start(timer.id)
        async with sdk.timers.live(timer.id, clock=lambda: time.time() * 1000 + skew) as stream:
            await next_of(stream, "snapshot")
            while stream.rtt_ms is None:  # the first pong
                await next_of(stream, "tick")
            assert abs(stream.offset_ms + skew) < 250  # within half the best round trip
            tick = await next_of(stream, "tick")
            assert 0 <= tick.timer.remaining_ms - tick.remaining_ms < 1000
            truth = await sdk.timers.get(timer.id)
            expected = truth.remaining_ms - (time.time() * 1000 - truth.server_time)
            assert abs((stream.remaining_ms() or 0) - expected) < 400  # not 45 s off


@pytest.mark.anyio
async def test_live_recovers_from_a_server_restart_with_a_fresh_snapshot(tmp_path):
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        key = await asyncio.to_thread(make_key, server.engine_url)
        async with async_client(server, key) as sdk:
            timer = await sdk.timers.create(type="countdown", duration=60)
            started = await sdk.timers.start(timer.id)
            async with sdk.timers.live(timer.id) as stream:
                before = await next_of(stream, "snapshot")
                await asyncio.to_thread(server.stop)
                await asyncio.to_thread(server.start)  # the same port
                again = await next_of(stream, "snapshot", timeout=30)
                assert again.resumed and again.version == started.version
                assert again.timer is not None and again.timer.state == "running"
                assert again.remaining_ms < before.remaining_ms
                tick = await next_of(stream, "tick")
                assert 0 <= tick.timer.remaining_ms - tick.remaining_ms < 1000
    finally:
        server.stop()


@pytest.mark.anyio
async def test_live_ends_when_the_timer_is_deleted_and_refuses_an_unknown_one(
        sdk_server, sdk_key):
    async with async_client(sdk_server, sdk_key) as sdk:
        timer = await sdk.timers.create(type="countdown", duration=60)
        stream = sdk.timers.live(timer.id)
        await next_of(stream, "snapshot")
        await sdk.timers.delete(timer.id)
        assert (await next_of(stream, "deleted")).type == "deleted"
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        with pytest.raises(NotFoundError):
            await anext(sdk.timers.live("tmr_nothing_here"))


# Webhooks


def _changed(body: bytes) -> bytes:
    """The body with one byte changed: the first digit of the title's number."""
    at = body.index(b"Talk 7") + 5
    return body[:at] + b"8" + body[at + 1:]


def _schemes(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The headers of one signature scheme each: Castimer's own, and Standard Webhooks'."""
    return ({k: v for k, v in headers.items() if not k.startswith("webhook-")},
            {k: v for k, v in headers.items() if not k.startswith("x-castimer-signature")})


def test_verify_webhook_accepts_real_deliveries_and_rejects_tampering(
        sdk_server, sdk_key, receiver):
    with sync_client(sdk_server, sdk_key) as sdk:
        secret = sdk.account.get().webhook_secret
        timer = sdk.timers.create(type="countdown", duration=60, title="Talk 7",
                                  webhook_url=receiver.url("/verify"))
        sdk.timers.start(timer.id)
        [hit] = receiver.wait("/verify", 1)

        event = verify_webhook(hit.body, hit.headers, secret)
        assert (event.event, event.timer_id, event.title) == ("timer.started", timer.id,
                                                              "Talk 7")
        assert event.delivery_id == hit.headers["webhook-id"]
        assert isinstance(event.timestamp, datetime) and event.data["state"] == "running"
        assert event.signature is not None and event.signature.startswith("sha256=")

        castimer_only, standard_only = _schemes(hit.headers)
        wrong = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        for headers in (hit.headers, castimer_only, standard_only):
            legacy = headers is castimer_only
            assert verify_webhook(hit.body, headers, secret,
                                  allow_legacy_signature=legacy).id == event.id
            with pytest.raises(WebhookVerificationError, match="does not match"):
                verify_webhook(_changed(hit.body), headers, secret,
                               allow_legacy_signature=legacy)
            with pytest.raises(WebhookVerificationError, match="does not match"):
                verify_webhook(hit.body, headers, wrong, allow_legacy_signature=legacy)
        # Stripped of its timestamped headers, a year-old capture is not let in by default.
        with pytest.raises(WebhookVerificationError, match="replay"):
            verify_webhook(hit.body, castimer_only, secret, now=time.time() + 365 * 86400)
        odd = {**hit.headers, "webhook-timestamp": "\u00b2"}  # isdigit() says yes; int() no
        with pytest.raises(WebhookVerificationError, match="epoch seconds"):
            verify_webhook(hit.body, odd, secret)

        sent = int(hit.headers["webhook-timestamp"])
        assert abs(sent - time.time()) < 60
        assert verify_webhook(hit.body, hit.headers, secret, now=sent + 299).id == event.id
        for late in (sent + 301, sent - 301):
            with pytest.raises(WebhookVerificationError, match="stale"):
                verify_webhook(hit.body, hit.headers, secret, now=late)

        # After a rotation the old secret still verifies beside the new one, in both schemes.
        new = sdk.account.rotate_webhook_secret().webhook_secret
        sdk.timers.pause(timer.id)
        _, paused = receiver.wait("/verify", 2)
        assert "x-castimer-signature-previous" in paused.headers
        for headers in _schemes(paused.headers):
            for key in (secret, new):
                assert verify_webhook(paused.body, headers, key,
                                      allow_legacy_signature=True).event == "timer.paused"


def test_the_readmes_plain_receiver_verifies_deliveries_and_refuses_a_forged_one(
        sdk_server, sdk_key, tmp_path):
    readme = (SDK / "README.md").read_text()
    [example] = re.findall(r"```python\n(# castimer-client webhook receiver\n.*?)```", readme,
                           re.S)
    (tmp_path / "receiver.py").write_text(example)
    port = free_port()
    with sync_client(sdk_server, sdk_key) as sdk:
        secret = sdk.account.get().webhook_secret
        env = {**os.environ, "CASTIMER_WEBHOOK_SECRET": secret, "PORT": str(port),
               "PYTHONPATH": str(SDK / "src")}
        receiver = subprocess.Popen([sys.executable, str(tmp_path / "receiver.py")], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            def forged() -> httpx.Response | None:
                try:
                    return httpx.post(f"http://127.0.0.1:{port}/", content=b'{"event":"x"}',
                                      headers={"X-Castimer-Signature": "sha256=" + "0" * 64})
                except httpx.TransportError:
                    return None

            assert until(forged).status_code == 401
            timer = sdk.timers.create(type="countdown", duration=60,
                                      webhook_url=f"http://127.0.0.1:{port}/hook")
            sdk.timers.start(timer.id)
            [done] = until(lambda: [d for d in sdk.deliveries.list(timer.id)
                                    if d.status == "succeeded"])
        finally:
            receiver.terminate()
            output, _ = receiver.communicate(timeout=10)
    assert f"timer.started {timer.id} {done.id}" in output


# The package itself


def test_the_async_client_has_the_sync_clients_surface():
    sync = Castimer(api_key="ck_live_x")
    twin = AsyncCastimer(api_key="ck_live_x")
    for name in ("timers", "events", "deliveries", "account", "keys", "rundowns"):
        one, other = getattr(sync, name), getattr(twin, name)
        methods = {m for m in dir(one) if not m.startswith("_")}
        assert methods == {m for m in dir(other) if not m.startswith("_")}, name
        for method in methods:
            shown = inspect.signature(getattr(one, method))
            assert shown == inspect.signature(getattr(other, method)) or (
                str(shown).replace("Pager", "AsyncPager")
                == str(inspect.signature(getattr(other, method)))), (name, method)
    sync.close()
    asyncio.run(twin.close())


def test_mypy_strict_passes_on_the_package(tmp_path):
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir",
                              str(tmp_path), "src"], cwd=SDK, capture_output=True, text=True,
                             timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (SDK / "src" / "castimer_client" / "py.typed").is_file()


def test_pip_install_into_a_fresh_venv_runs_the_readme_quick_start(sdk_server, sdk_key,
                                                                   tmp_path):
    # From a copy of the files git knows, as a fresh clone has them.
    source = tmp_path / "python"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "sdk/python"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    for name in listed.splitlines():
        if (ROOT / name).is_file():
            target = source / Path(name).relative_to("sdk/python")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True,
                   timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], check=True,
                   timeout=600, cwd=tmp_path)

    readme = (SDK / "README.md").read_text()
    section = readme.split("## Quick start\n", 1)[1]
    example = re.search(r"```python\n(.+?)\n```", section, re.S).group(1)
    assert len(example.splitlines()) <= 6, example
    assert '"ck_live_…"' in example and '"http://127.0.0.1:8000"' in example
    script = tmp_path / "quick_start.py"
    script.write_text(example.replace('"ck_live_…"', f'"{sdk_key}"').replace(
        '"http://127.0.0.1:8000"', f'"{sdk_server.base}"'))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run([str(python), str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert re.fullmatch(r"tmr_\w+ running \d+\n", ran.stdout), ran.stdout
