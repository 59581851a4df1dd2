"""The scheduler fires due deadlines through the commit path, once, whatever races it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from server import commit, timers
from server.engines import create_engine
from server.engines.base import DEADLINES_CHANNEL, timer_channel
from server.scheduler import Scheduler
from tests.waiting import SwallowedCancellation, until

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000


class Clock:
    """A settable clock for the scheduler and the commit path."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def completions(engine, account_id: str = "acct_1") -> list[dict]:
    page, _ = await engine.list_events(account_id, None, 500)
    return [orjson.loads(e.body) for e in page if orjson.loads(e.body)["event"]
            == "timer.completed"]


async def test_due_completions_fire_once_with_their_lateness(engine):
    clock = Clock(T0)
    made = [await commit.create(engine, "acct_1", {"type": "countdown", "duration": d},
                                clock=clock) for d in (1, 2, 3)]
    for timer in made:
        await commit.command(engine, "acct_1", timer.id, "start", clock=clock)
    scheduler = Scheduler(engine, clock=clock)
    clock.now = T0 + 2500
    await scheduler._fire_due()
    clock.now = T0 + 2600
    await scheduler._fire_due()
    fired = await completions(engine)
    assert sorted((e["timer_id"], e["data"]["late_ms"]) for e in fired) == sorted(
        [(made[0].id, 1500), (made[1].id, 500)])
    assert scheduler.fired == 2
    assert await engine.next_deadline() == T0 + 3000


async def test_two_schedulers_racing_over_one_store_fire_each_deadline_once(engine_url):
    first, second = create_engine(engine_url), create_engine(engine_url)
    await first.open()
    await second.open()
    try:
        clock = Clock(T0)
        for n in range(40):
            timer = await commit.create(first, "acct_1",
                                        {"type": "countdown", "duration": 1 + n % 3},
                                        clock=clock)
            await commit.command(first, "acct_1", timer.id, "start", clock=clock)
        clock.now = T0 + 5000
        racers = [Scheduler(first, clock=clock), Scheduler(second, clock=clock)]
        await asyncio.gather(*(s._fire_due() for s in racers))
        assert len(await completions(first)) == 40
        assert sum(s.fired for s in racers) == 40
    finally:
        await first.close()
        await second.close()


async def test_a_commit_with_a_sooner_deadline_wakes_the_sleeping_scheduler(private_engine):
    # A store no other server uses: this scheduler alone may fire the deadline.
    engine = private_engine
    scheduler = Scheduler(engine, poll_s=30)  # without the wake-up it would sleep 30 s
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.sleep(0.05)
        timer = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 1})
        await commit.command(engine, "acct_1", timer.id, "start")
        await until(lambda: scheduler.fired)  # well short of the 30 s poll
        assert scheduler.fired == 1
        stored = timers.load(await engine.get_timer(timer.id))
        assert stored.state == "completed"
        [event] = await completions(engine)
        assert event["data"]["late_ms"] < 500
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_interval_rounds_fire_in_order_through_the_scheduler(engine):
    clock = Clock(T0)
    timer = await commit.create(engine, "acct_1", {"type": "interval", "work": 2, "rest": 1,
                                                   "rounds": 3}, clock=clock)
    await commit.command(engine, "acct_1", timer.id, "start", clock=clock)
    scheduler = Scheduler(engine, clock=clock)
    for now in range(0, 10_000, 500):
        clock.now = T0 + now
        await scheduler._fire_due()
    page, _ = await engine.list_events("acct_1", None, 100)
    names = [orjson.loads(e.body)["event"] for e in page]
    assert names == ["timer.started", "interval.round_end", "interval.round_end",
                     "interval.round_end", "interval.completed", "timer.completed"]


async def test_an_unexpected_error_does_not_stop_the_scheduler(private_engine):
    """A bug or an odd error reply once must not end deadline firing for the process. The
    fault is injected around a real engine: no real store fails on cue with an arbitrary error."""

    class FailsOnce:
        def __init__(self, inner):
            self.inner, self.failed = inner, False

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def due_timers(self, now_ms, limit):
            if not self.failed:
                self.failed = True
                raise RuntimeError("injected fault")
            return await self.inner.due_timers(now_ms, limit)

    engine = private_engine
    flaky = FailsOnce(engine)
    timer = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 1})
    await commit.command(engine, "acct_1", timer.id, "start")
    scheduler = Scheduler(flaky, poll_s=0.2)
    task = asyncio.create_task(scheduler.run())
    try:
        await until(lambda: scheduler.fired)
        assert flaky.failed and scheduler.fired == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_cancellation_swallowed_below_the_scheduler_still_stops_it(private_engine):
    """Cancelled while a store call is in flight, the scheduler stops even if that call takes
    the cancellation and returns: redis-py's command write does on Python 3.11 when the write
    finishes as the cancel arrives (seen in `next_deadline` under load), and the scheduler
    went round for ever, its shutdown (and a test awaiting it) with it."""
    swallow = SwallowedCancellation()

    class SwallowsTheCancellation:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def next_deadline(self):
            await swallow.once()
            return await self.inner.next_deadline()

    scheduler = Scheduler(SwallowsTheCancellation(private_engine), poll_s=0.05)
    assert await swallow.cancel(asyncio.create_task(scheduler.run()))


async def test_a_deadline_committed_while_the_scheduler_looks_is_not_missed(private_engine):
    """The race: another commit sets a sooner deadline after the scheduler has read the next
    deadline but before it sleeps. Its wake-up must cut the sleep short; dropped, the deadline
    would wait for the next poll (30 s here). The engine double makes the race happen every
    time: its `next_deadline` reads the real one, then commits, waits until the commit's
    wake-up has been delivered, and returns the stale answer."""
    engine = private_engine
    woken = asyncio.Event()
    await engine.subscribe(DEADLINES_CHANNEL, lambda message: woken.set())

    class CommitsDuringTheLook:
        def __init__(self, inner):
            self.inner, self.timer_id = inner, None

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def next_deadline(self):
            seen = await self.inner.next_deadline()
            if self.timer_id is None:
                timer = await commit.create(self.inner, "acct_1",
                                            {"type": "countdown", "duration": 1})
                self.timer_id = timer.id
                await commit.command(self.inner, "acct_1", timer.id, "start")
                await asyncio.wait_for(woken.wait(), 5)
            return seen

    completed = asyncio.Event()
    double = CommitsDuringTheLook(engine)
    scheduler = Scheduler(double, poll_s=30)
    task = asyncio.create_task(scheduler.run())
    try:
        while double.timer_id is None:
            await asyncio.sleep(0.01)
        await engine.subscribe(timer_channel(double.timer_id),
                               lambda message: b'"completed"' in message and completed.set())
        await asyncio.wait_for(completed.wait(), 5)
        [event] = await completions(engine)
        assert event["timer_id"] == double.timer_id and event["data"]["late_ms"] < 500
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_timer_that_cannot_be_settled_does_not_hold_up_the_others(engine,
                                                                          monkeypatch, caplog):
    """A bug in one timer's settling (here a settle that raises for that timer, standing in
    for any unexpected error) is logged, and every other due deadline still fires."""
    clock = Clock(T0)
    made = [await commit.create(engine, "acct_1", {"type": "countdown", "duration": 1},
                                clock=clock) for _ in range(3)]
    for timer in made:
        await commit.command(engine, "acct_1", timer.id, "start", clock=clock)
    real_settle = commit.settle

    async def settle(engine_, timer_id, clock_=None):
        if timer_id == made[0].id:
            raise RuntimeError("a bug")
        return await real_settle(engine_, timer_id, clock_)

    monkeypatch.setattr(commit, "settle", settle)
    scheduler = Scheduler(engine, clock=clock)
    clock.now = T0 + 1500
    assert await scheduler._fire_due() == scheduler.poll_s  # no spin on the stuck one
    fired = {e["timer_id"] for e in await completions(engine)}
    assert fired == {made[1].id, made[2].id}
    assert made[0].id in caplog.text
