"""The one commit path. Every change of a timer — an API call, a control-socket command, a
deadline reached — is computed by the pure core (`timers`) and applied here by
`engine.commit()` as one atomic unit with a version check. Nothing else writes timers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from . import ids, metrics, rundowns, timers
from .clock import now_ms as wall_clock
from .engines.base import (
    RUNDOWNS,
    TIMERS,
    Commit,
    DeliveryRecord,
    EventRecord,
    Store,
    VersionConflict,
)
from .rundowns import Rundown, RundownChange
from .timers import Change, Timer

#: How long (seconds) a change keeps losing races to other processes' commits of the same timer
#: (each time it recomputes from the new state) before it gives up with a conflict. A budget of
#: time, not a count of losses: under load (eight processes on two busy cores) a round of the race
#: is slow and twelve straight losses did happen, but every round somebody wins, so a change that
#: keeps trying for seconds is all but sure to win one.
PATIENCE_S = 5.0
#: The wait after a lost race is drawn at random below a cap that starts here (seconds) and
#: doubles with each loss up to BACKOFF_MAX_S, so processes that collided do not collide again
#: in step.
BACKOFF_S = 0.002
BACKOFF_MAX_S = 0.1


#: How many timers' bodies a process keeps per engine (a full table starts again empty).
RECENT_TIMERS = 10_000

#: The body of each timer as this process last committed or read it, by engine. A write
#: request's first try computes its change from this copy and sends the commit with the
#: request's way in (`WayIn`), one round trip on Redis instead of two. A copy made stale by
#: another process's commit costs only that try: its version check fails and the change is
#: computed again from the stored body, which the same round trip brings back.
_recent: weakref.WeakKeyDictionary[Store, dict[str, bytes]] = weakref.WeakKeyDictionary()


def _remember(engine: Store, timer_id: str, body: bytes | None) -> None:
    if not engine.one_trip_writes:
        return  # nothing would compute from it (SQLite): keep no copies
    recent = _recent.get(engine)
    if recent is None:
        recent = _recent[engine] = {}
    if body is None:
        recent.pop(timer_id, None)
        return
    if len(recent) >= RECENT_TIMERS and timer_id not in recent:
        recent.clear()
    recent[timer_id] = body


def _committed(engine: Store, unit: Commit) -> None:
    """Keep the bodies `unit` wrote, its linked commits' too, as the latest copies."""
    metrics.COMMITTED.inc()
    for one in (unit, *unit.linked):
        if one.collection == TIMERS:
            _remember(engine, one.timer_id, one.timer)


class WayIn:
    """A write request's way in (its key, account and rate limit), not taken yet, so that the
    change's first commit can take it along (`Store.admit_commit`). Made by the API layer,
    which knows the request; `entered` once either method has been called. Both raise what a
    refused request raises (and write nothing then)."""

    __slots__ = ("entered",)

    def __init__(self) -> None:
        self.entered = False

    async def enter(self, timer_id: str | None) -> bytes | None:
        """Take the way in alone, reading the timer's stored body (None: none) with it."""
        raise NotImplementedError

    async def enter_with(self, unit: Commit) -> tuple[bool, bytes | None]:
        """Take the way in and commit `unit` in one step: whether it was written, and the
        timer's stored body after the step."""
        raise NotImplementedError


class _Turns:
    """Whose turn it is to change one timer in this process, and how many want one."""

    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


#: timer id → its turns, only while some change of it is running or waiting in this process.
_turns: dict[str, _Turns] = {}


@contextlib.asynccontextmanager
async def _turn(timer_id: str) -> AsyncIterator[None]:
    """One change of a timer at a time in this process: commits of one process never race each
    other (on SQLite all of them go through this process's one writer, so that is every race);
    only other processes' commits can still make one lose."""
    turns = _turns.get(timer_id)
    if turns is None:
        turns = _turns[timer_id] = _Turns()
    turns.waiting += 1
    try:
        async with turns.lock:
            yield
    finally:
        turns.waiting -= 1
        if not turns.waiting:
            del _turns[timer_id]


class _Race:
    """One change's losses to other processes' commits: after each a random wait, its cap
    doubling with each loss, until PATIENCE_S is spent."""

    __slots__ = ("give_up_at", "lost")

    def __init__(self) -> None:
        self.lost, self.give_up_at = 0, time.monotonic() + PATIENCE_S

    async def lost_to(self, conflict: VersionConflict, object_id: str,
                      expected_version: int | None) -> None:
        """Wait before computing again; raise the conflict when the caller wants no retry for
        its object (`expected_version`) or patience is spent. A linked object that moved
        meanwhile (a rundown, the timer it starts) is a race whatever the caller expected of
        its own object."""
        self.lost += 1
        mine = conflict.object_id in (None, object_id)
        if (expected_version is not None and mine) or time.monotonic() >= self.give_up_at:
            raise VersionConflict(conflict.current, conflict.object_id)
        wait = min(BACKOFF_MAX_S, BACKOFF_S * 2 ** self.lost)
        await asyncio.sleep(random.uniform(0, wait))  # noqa: S311


class TimerNotFound(LookupError):
    """No such timer for this account (also for another account's timer: ids are not leaked)."""

    def __init__(self, timer_id: str) -> None:
        super().__init__(f"no timer {timer_id!r} in this account")
        self.timer_id = timer_id


def event_body(name: str, event_id: str, at_ms: int, t: Timer, data: dict[str, Any],
               version: int | None = None) -> bytes:
    """An event as the log and webhooks carry it: compact JSON, keys in the documented order."""
    body: dict[str, Any] = {"id": event_id, "event": name, "timestamp": timers.iso(at_ms),
                            "timer_id": t.id, "title": t.title, "type": t.type, "data": data}
    if version is not None:
        body["version"] = version
    return orjson.dumps(body)


def _wants(t: Timer, event: str) -> bool:
    return bool(t.webhook_url) and (t.webhook_events is None or event in t.webhook_events)


def build(change: Change, now_ms: int) -> Commit:
    """The engine's unit of work for `change`: timer, deadline, events, deliveries, message."""
    after = change.timer
    shown = after if after is not None else change.before
    version = change.before.version + 1
    events, deliveries = [], []
    for event in change.events:
        event_id = ids.event_id()
        events.append(EventRecord(event_id, shown.account_id, shown.id,
                                  event_body(event.name, event_id, event.at_ms, shown,
                                             event.data, version)))
        # The delivery follows the timer's settings before a deletion, after anything else.
        if _wants(shown, event.name):
            assert shown.webhook_url is not None
            deliveries.append(DeliveryRecord(
                ids.delivery_id(shown.id), shown.account_id, shown.id, event_id,
                shown.webhook_url,
                event_body(event.name, event_id, event.at_ms, shown, event.data), now_ms))
    # The state channel carries the committed timer (servers only: hubs build what viewers
    # see from it, at each tick's own instant) without its secrets, and the digest of its
    # control token, by which a hub closes the sockets of a token rotated away.
    message = orjson.dumps({
        "timer_id": shown.id, "v": version, "server_time": now_ms,
        "events": [e.name for e in change.events],
        "timer": timers.on_the_wire(after) if after is not None else None,
        "control": timers.control_digest(after.control_token) if after is not None else ""})
    return Commit(id=ids.new_id("cmt_"), timer_id=shown.id, account_id=shown.account_id,
                  expected_version=change.before.version, version=version,
                  timer=timers.dump(after) if after is not None else None,
                  created_at_ms=shown.created_at_ms,
                  deadline_ms=timers.next_deadline(after) if after is not None else None,
                  events=events, deliveries=deliveries, message=message)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A timer's stored body (None: no such timer) read on the request's way in, with its key
    and rate limit in one round trip (`accounts.authenticate(timer_id=…)`), so that the first
    load costs nothing. A change uses it for its first try only: if another commit came in
    between, that try loses the version check and the next one loads afresh."""

    body: bytes | None


async def load(engine: Store, timer_id: str, account_id: str | None,
               fetched: Fetched | None = None) -> Timer:
    """The stored timer; `TimerNotFound` unless it exists and (if given) is the account's."""
    raw = fetched.body if fetched is not None else await engine.get_timer(timer_id)
    _remember(engine, timer_id, raw)
    if raw is None:
        raise TimerNotFound(timer_id)
    timer = timers.load(raw)
    if account_id is not None and timer.account_id != account_id:
        raise TimerNotFound(timer_id)
    return timer


async def change_timer(engine: Store, timer_id: str, account_id: str | None,
                       compute: Callable[[Timer, int], Change | None], *,
                       expected_version: int | None = None,
                       fetched: Fetched | WayIn | None = None,
                       clock: Callable[[], int] = wall_clock) -> tuple[Timer | None, Change | None]:
    """Load (the first time from `fetched`, if given), compute, commit; on losing a race (to
    another process: this one takes turns), wait a random while and compute again from the new
    state. With `expected_version` the caller wants no such retry: a mismatch is
    `VersionConflict`. A request's `WayIn` is taken first (`_one_trip`). Returns the timer as
    committed (None once deleted) and the change (None if none)."""
    copy = _copy_of(engine, timer_id, account_id) if isinstance(fetched, WayIn) else None
    if isinstance(fetched, WayIn) and copy is None:
        # No copy of the account's timer to compute from: the way in alone, before taking a
        # turn, so that a request about to be refused (another account's timer, a revoked key)
        # never keeps this timer's own changes waiting.
        stored = await fetched.enter(timer_id)
        _remember(engine, timer_id, stored)
        fetched = Fetched(stored)
    async with _turn(timer_id):
        race = _Race()
        if isinstance(fetched, WayIn):
            first = await _one_trip(engine, fetched, timer_id, account_id, copy, compute,
                                    expected_version, clock)
            if not isinstance(first, Fetched):
                return first
            fetched = first
        while True:
            timer = await load(engine, timer_id, account_id, fetched)
            early, fetched = fetched is not None, None
            if expected_version is not None and timer.version != expected_version:
                if early:
                    continue  # an early read may be stale: decide on a fresh one
                raise VersionConflict(timer.version)
            now = clock()
            change = compute(timer, now)
            if change is None:
                return timer, None
            change, linked = await _in_rundowns(engine, change, now)
            unit = build(change, now)
            if linked:
                unit = replace(unit, linked=linked)
            try:
                await engine.commit(unit)
            except VersionConflict as conflict:
                metrics.CONFLICTS.inc()
                if early:
                    continue  # a stale early read, not a race: load afresh at once
                await race.lost_to(conflict, timer_id, expected_version)
                continue
            _committed(engine, unit)
            return change.timer, change


def _copy_of(engine: Store, timer_id: str,
             account_id: str | None) -> tuple[bytes, Timer] | None:
    """This process's copy of `timer_id` (its body, loaded), if it has one of `account_id`'s."""
    body = _recent.get(engine, {}).get(timer_id)
    if body is None:
        return None
    timer = timers.load(body)
    return (body, timer) if timer.account_id == account_id else None


async def _one_trip(engine: Store, way_in: WayIn, timer_id: str, account_id: str | None,
                    copy: tuple[bytes, Timer] | None,
                    compute: Callable[[Timer, int], Change | None],
                    expected_version: int | None,
                    clock: Callable[[], int]) -> Fetched | tuple[Timer | None, Change]:
    """A write request's first try: its change computed from this process's latest copy of
    the timer and committed together with the request's way in, in one step. Without a copy
    to use, or when the copy yields no change (or an error), the way in is taken alone, with
    a fresh read. Returns what was committed, or the stored body to go on from."""
    body = _recent.get(engine, {}).get(timer_id)
    unit, change = None, None
    if body is not None:
        # The copy looked at before this turn, unless a change of this process replaced it.
        timer = copy[1] if copy is not None and copy[0] is body else timers.load(body)
        if timer.account_id == account_id and expected_version in (None, timer.version):
            now = clock()
            try:
                change = compute(timer, now)
            except ValueError:  # refused (a TimerError) on a copy that may be stale: the
                change = None  # fresh read decides
            if change is not None:
                change, linked = await _in_rundowns(engine, change, now)
                unit = build(change, now)
                if linked:
                    unit = replace(unit, linked=linked)
    if unit is None or change is None:
        stored = await way_in.enter(timer_id)
        _remember(engine, timer_id, stored)
        return Fetched(stored)
    committed, stored = await way_in.enter_with(unit)
    if committed:
        _committed(engine, unit)
        return change.timer, change
    metrics.CONFLICTS.inc()
    _remember(engine, timer_id, stored)
    return Fetched(stored)


async def create(engine: Store, account_id: str, fields: dict[str, Any],
                 clock: Callable[[], int] = wall_clock) -> Timer:
    now = clock()
    change = timers.create(ids.timer_id(account_id), account_id, fields, now,
                           ids.control_token())
    unit = build(change, now)
    await engine.commit(unit)
    _committed(engine, unit)
    assert change.timer is not None
    return change.timer


async def command(engine: Store, account_id: str | None, timer_id: str, name: str, *,
                  seconds: int = 0, expected_version: int | None = None,
                  fetched: Fetched | WayIn | None = None,
                  clock: Callable[[], int] = wall_clock) -> Timer:
    """Run start / pause / resume / reset / adjust / stop through the commit path."""
    timer, _ = await change_timer(
        engine, timer_id, account_id,
        lambda t, now: timers.apply(t, name, now, seconds=seconds),
        expected_version=expected_version, fetched=fetched, clock=clock)
    assert timer is not None
    return timer


async def set_state(engine: Store, account_id: str, timer_id: str, state: str, *,
                    expected_version: int | None = None,
                    fetched: Fetched | WayIn | None = None,
                    clock: Callable[[], int] = wall_clock) -> Timer:
    """Take the timer to `state`; being there already changes nothing (no version step)."""

    def compute(t: Timer, now: int) -> Change | None:
        name = timers.command_for_state(t, state, now)
        return timers.apply(t, name, now) if name else timers.advance(t, now)

    timer, _ = await change_timer(engine, timer_id, account_id, compute,
                                  expected_version=expected_version, fetched=fetched,
                                  clock=clock)
    assert timer is not None
    return timer


async def edit(engine: Store, account_id: str | None, timer_id: str, fields: dict[str, Any], *,
               expected_version: int | None = None,
               clock: Callable[[], int] = wall_clock) -> Timer:
    timer, _ = await change_timer(engine, timer_id, account_id,
                                  lambda t, now: timers.edit(t, fields, now),
                                  expected_version=expected_version, clock=clock)
    assert timer is not None
    return timer


async def set_message(engine: Store, account_id: str | None, timer_id: str, text: str,
                      flash: bool, *, expected_version: int | None = None,
                      fetched: Fetched | WayIn | None = None,
                      clock: Callable[[], int] = wall_clock) -> Timer:
    """Show a message to the people on stage (replacing any earlier one)."""
    timer, _ = await change_timer(engine, timer_id, account_id,
                                  lambda t, now: timers.set_message(t, text, flash, now),
                                  expected_version=expected_version, fetched=fetched,
                                  clock=clock)
    assert timer is not None
    return timer


async def clear_message(engine: Store, account_id: str | None, timer_id: str, *,
                        expected_version: int | None = None,
                        fetched: Fetched | WayIn | None = None,
                        clock: Callable[[], int] = wall_clock) -> Timer:
    """Take the message down; no change (and no version step) when there is none."""
    timer, _ = await change_timer(engine, timer_id, account_id, timers.clear_message,
                                  expected_version=expected_version, fetched=fetched,
                                  clock=clock)
    assert timer is not None
    return timer


async def rotate_control_token(engine: Store, account_id: str, timer_id: str, *,
                               clock: Callable[[], int] = wall_clock) -> Timer:
    timer, _ = await change_timer(
        engine, timer_id, account_id,
        lambda t, now: timers.rotate_control_token(t, ids.control_token(), now), clock=clock)
    assert timer is not None
    return timer


async def delete(engine: Store, account_id: str, timer_id: str, *,
                 expected_version: int | None = None,
                 clock: Callable[[], int] = wall_clock) -> None:
    await change_timer(engine, timer_id, account_id, timers.delete,
                       expected_version=expected_version, clock=clock)


async def settle(engine: Store, timer_id: str,
                 clock: Callable[[], int] = wall_clock) -> Change | None:
    """Fire what is due on one timer (the scheduler's commit). Another process may have fired
    it first: then the reload finds nothing due and this returns None."""
    try:
        _, change = await change_timer(engine, timer_id, None, timers.advance, clock=clock)
    except TimerNotFound:
        return None
    return change


# -- rundowns ---------------------------------------------------------------------------------


class ShowMovedOn(Exception):
    """An advance `from` a timer that is no longer the show's current one (409)."""

    def __init__(self, current: str | None, expected: str) -> None:
        super().__init__(f"the show is on {current or 'no timer'}, not {expected}: it moved on "
                         "before this advance (an auto-advance, or another presenter)")
        self.current = current


class RundownNotFound(LookupError):
    """No such rundown for this account (also for another account's: ids are not leaked)."""

    def __init__(self, rundown_id: str) -> None:
        super().__init__(f"no rundown {rundown_id!r} in this account")
        self.rundown_id = rundown_id


def rundown_event_body(name: str, event_id: str, at_ms: int, r: Rundown, data: dict[str, Any],
                       version: int | None = None) -> bytes:
    body: dict[str, Any] = {"id": event_id, "event": name, "timestamp": timers.iso(at_ms),
                            "rundown_id": r.id, "title": r.title, "data": data}
    if version is not None:
        body["version"] = version
    return orjson.dumps(body)


def build_rundown(change: RundownChange, now_ms: int) -> Commit:
    """The engine's unit of work for a rundown's change (as `build` for a timer's)."""
    after = change.rundown
    shown = after if after is not None else change.before
    version = change.before.version + 1
    events, deliveries = [], []
    for event in change.events:
        event_id = ids.event_id()
        events.append(EventRecord(event_id, shown.account_id, shown.id, rundown_event_body(
            event.name, event_id, event.at_ms, shown, event.data, version)))
        if shown.webhook_url:
            deliveries.append(DeliveryRecord(
                ids.delivery_id(shown.id), shown.account_id, shown.id, event_id,
                shown.webhook_url,
                rundown_event_body(event.name, event_id, event.at_ms, shown, event.data),
                now_ms))
    message = orjson.dumps({"rundown_id": shown.id, "v": version, "server_time": now_ms,
                            "events": [e.name for e in change.events],
                            "rundown": None if after is None else public_rundown(after)})
    return Commit(id=ids.new_id("cmt_"), timer_id=shown.id, account_id=shown.account_id,
                  expected_version=change.before.version, version=version,
                  timer=rundowns.dump(after) if after is not None else None,
                  created_at_ms=shown.created_at_ms, deadline_ms=None, events=events,
                  deliveries=deliveries, message=message, collection=RUNDOWNS,
                  members=after.timers if after is not None else ())


def public_rundown(r: Rundown) -> dict[str, Any]:
    """What anyone holding the rundown's id may see (its viewers follow `current`)."""
    return {"id": r.id, "title": r.title, "timers": list(r.timers), "current": r.current,
            "next": rundowns.next_of(r, r.current) if r.current else None,
            "auto_advance": r.auto_advance, "version": r.version,
            "completed_at": timers.iso(r.completed_at_ms)}


async def load_rundown(engine: Store, rundown_id: str, account_id: str | None) -> Rundown:
    raw = await engine.get_rundown(rundown_id)
    if raw is None:
        raise RundownNotFound(rundown_id)
    r = rundowns.load(raw)
    if account_id is not None and r.account_id != account_id:
        raise RundownNotFound(rundown_id)
    return r


def _merged(change: Change, then: Change) -> Change:
    """Two steps of one timer as one change: one version step, the events of both."""
    assert then.timer is not None
    return Change(change.before, replace(then.timer, version=change.before.version + 1),
                  change.events + then.events)


def _started(t: Timer, at_ms: int, now_ms: int) -> Change | None:
    """`t` started at `at_ms` as a show's next timer: from the top if it ran before, resumed if
    it is paused, left alone if it is running; None when nothing changes."""
    if t.state in (timers.State.RUNNING, timers.State.OVERTIME):
        return None
    if t.state == timers.State.PAUSED:
        step = timers.apply(t, "resume", at_ms)
    elif t.state == timers.State.IDLE:
        step = timers.apply(t, "start", at_ms)
    else:
        reset = timers.apply(t, "reset", at_ms)
        assert reset.timer is not None
        step = _merged(reset, timers.apply(reset.timer, "start", at_ms))
    assert step.timer is not None
    return Change(t, replace(step.timer, updated_at_ms=now_ms), step.events)


def _stopped(t: Timer, at_ms: int) -> Change | None:
    """`t` stopped at `at_ms` as the show leaves it, unless it is done or never started. One
    that reached zero by then (its completion not yet committed: the race of a presenter's
    advance with the auto-advance) completes instead, stamped with its own deadline."""
    settled = timers.advance(t, at_ms)
    now = settled.timer if settled is not None and settled.timer is not None else t
    if now.state in (timers.State.RUNNING, timers.State.PAUSED, timers.State.OVERTIME):
        return timers.apply(t, "stop", at_ms)
    return settled


async def _in_rundowns(engine: Store, change: Change,
                       now_ms: int) -> tuple[Change, list[Commit]]:
    """What a timer's change does to the rundowns it is in, to be committed with it: a deleted
    timer leaves them; the current timer's completion moves an auto-advancing show on to the
    next timer, started at the completion's own deadline (and a timer counting on in overtime
    is stopped there); the last timer's completion or stop completes the show."""
    names = {event.name for event in change.events}
    t = change.timer
    if t is not None and timers.COMPLETED not in names and timers.STOPPED not in names:
        return change, []
    timer_id = change.before.id
    linked: list[Commit] = []
    started: set[str] = set()  # a timer next in two shows starts once, for both
    for rundown_id in await engine.rundowns_of(timer_id):
        try:
            r = await load_rundown(engine, rundown_id, change.before.account_id)
        except RundownNotFound:
            continue
        if t is None:
            linked.append(build_rundown(rundowns.without_timer(r, timer_id, now_ms), now_ms))
            continue
        if r.current != timer_id:
            continue
        following = rundowns.next_of(r, timer_id)
        if timers.COMPLETED in names and r.auto_advance and following is not None:
            at = next(e.at_ms for e in change.events if e.name == timers.COMPLETED)
            stop = _stopped(t, at)
            if stop is not None:
                change = _merged(change, stop)
                t = change.timer
                assert t is not None
            if following not in started:
                try:
                    upcoming = await load(engine, following, r.account_id)
                except TimerNotFound:
                    continue
                try:
                    start = _started(upcoming, at, now_ms)
                except timers.TimerError:  # an event timer whose target has passed: the
                    continue  # show stays on this timer, for the presenter to move on by hand
                if start is not None:
                    linked.append(build(start, now_ms))
                started.add(following)
            linked.append(build_rundown(rundowns.advanced(r, following, at, now_ms,
                                                          auto=True), now_ms))
        elif rundowns.is_last(r, timer_id):
            at = next(e.at_ms for e in change.events
                      if e.name in (timers.COMPLETED, timers.STOPPED))
            done = rundowns.completed(r, at, now_ms)
            if done is not None:
                linked.append(build_rundown(done, now_ms))
    return change, linked


async def _own_timers(engine: Store, account_id: str, timer_ids: Any) -> None:
    """Every id names a timer of the account (422 naming the first that does not)."""
    ids_ = rundowns.check_timers(timer_ids)
    found = await asyncio.gather(*(engine.get_timer(timer_id) for timer_id in ids_))
    for timer_id, raw in zip(ids_, found, strict=True):
        if raw is None or timers.load(raw).account_id != account_id:
            raise timers.TimerError(f"timers: no timer {timer_id!r} in this account", "timers")


async def create_rundown(engine: Store, account_id: str, fields: dict[str, Any],
                         clock: Callable[[], int] = wall_clock) -> Rundown:
    now = clock()
    change = rundowns.create(ids.rundown_id(account_id), account_id, fields, now,
                             ids.control_token())
    await _own_timers(engine, account_id, fields["timers"])
    unit = build_rundown(change, now)
    await engine.commit(unit)
    _committed(engine, unit)
    assert change.rundown is not None
    return change.rundown


RundownStep = Callable[[Rundown, int], Any]


async def change_rundown(engine: Store, rundown_id: str, account_id: str | None,
                         compute: RundownStep, *, expected_version: int | None = None,
                         clock: Callable[[], int] = wall_clock) -> Rundown | None:
    """As `change_timer`, for a rundown: load, compute (a coroutine that may load timers and
    returns the rundown's change and the commits of timers to go with it, or None), commit all
    of it as one unit; on a lost race, compute again from the new state."""
    async with _turn(rundown_id):
        race = _Race()
        while True:
            r = await load_rundown(engine, rundown_id, account_id)
            if expected_version is not None and r.version != expected_version:
                raise VersionConflict(r.version, rundown_id)
            now = clock()
            outcome = await compute(r, now)
            if outcome is None:
                return r
            change, linked = outcome
            unit = replace(build_rundown(change, now), linked=linked)
            try:
                await engine.commit(unit)
            except VersionConflict as conflict:
                metrics.CONFLICTS.inc()
                await race.lost_to(conflict, rundown_id, expected_version)
                continue
            _committed(engine, unit)
            return change.rundown


async def edit_rundown(engine: Store, account_id: str, rundown_id: str,
                       fields: dict[str, Any], *, expected_version: int | None = None,
                       clock: Callable[[], int] = wall_clock) -> Rundown:
    async def compute(r: Rundown, now: int) -> tuple[RundownChange, list[Commit]]:
        change = rundowns.edit(r, fields, now)
        assert change.rundown is not None
        added = [t for t in change.rundown.timers if t not in r.timers]
        if added:
            await _own_timers(engine, account_id, added)
        return change, []

    r = await change_rundown(engine, rundown_id, account_id, compute,
                             expected_version=expected_version, clock=clock)
    assert r is not None
    return r


async def delete_rundown(engine: Store, account_id: str, rundown_id: str, *,
                         expected_version: int | None = None,
                         clock: Callable[[], int] = wall_clock) -> None:
    async def compute(r: Rundown, now: int) -> tuple[RundownChange, list[Commit]]:
        return rundowns.delete(r), []

    await change_rundown(engine, rundown_id, account_id, compute,
                         expected_version=expected_version, clock=clock)


async def rotate_rundown_token(engine: Store, account_id: str, rundown_id: str, *,
                               clock: Callable[[], int] = wall_clock) -> Rundown:
    async def compute(r: Rundown, now: int) -> tuple[RundownChange, list[Commit]]:
        return rundowns.rotate_control_token(r, ids.control_token(), now), []

    r = await change_rundown(engine, rundown_id, account_id, compute, clock=clock)
    assert r is not None
    return r


async def advance_rundown(engine: Store, account_id: str | None, rundown_id: str, to: Any, *,
                          expected_version: int | None = None, leaving: str | None = None,
                          clock: Callable[[], int] = wall_clock) -> Rundown:
    """Make the timer `to` names current and start it; the timer it replaces, unless it is done
    (or never started), is stopped. All of it one commit: of an advance and an auto-advance
    that race, one happens, and the other is computed again from what the first left. With
    `leaving`, only if the show is still on that timer (`ShowMovedOn` otherwise): a button that
    means "on from this one" does not skip one when it lands just after an auto-advance."""

    async def compute(r: Rundown, now: int) -> tuple[RundownChange, list[Commit]]:
        if leaving is not None and r.current != leaving:
            raise ShowMovedOn(r.current, leaving)
        to_id = rundowns.target(r, to)
        linked = []
        if r.current is not None and r.current != to_id:
            try:
                left = await load(engine, r.current, r.account_id)
            except TimerNotFound:
                pass
            else:
                stop = _stopped(left, now)
                if stop is not None:
                    linked.append(build(stop, now))
        upcoming = await load(engine, to_id, r.account_id)
        start = _started(upcoming, now, now)
        if start is not None:
            linked.append(build(start, now))
        elif to_id == r.current:
            raise timers.TimerError(f"{to_id} is the current timer and is running already",
                                    "to")
        return rundowns.advanced(r, to_id, now, now), linked

    r = await change_rundown(engine, rundown_id, account_id, compute,
                             expected_version=expected_version, clock=clock)
    assert r is not None
    return r
