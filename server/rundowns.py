"""The pure rundown core: a show's timers in order, which of them is current, and how a show
moves on. Like `timers`, nothing here awaits or reads a clock: every function takes `now_ms`
and returns the new rundown and its events; the commit path (`commit`) loads the timers,
starts and stops them, and writes it all in one atomic unit.

A rundown holds timer ids, not timers: the timers stay what they are (a timer may be in several
rundowns, and deleting a rundown leaves them). `current` is the timer the show is on; an
advance makes another current and starts it. With `auto_advance`, the current timer's
completion starts the next, anchored at the completion's deadline, so a long show has no gap
and no drift. The show is `completed` when its last timer, being current, completes or is
stopped; `rundown.completed` fires once per run of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import orjson

from .timers import TimerError, TimerEvent, check_title, iso

ADVANCED = "rundown.advanced"
COMPLETED = "rundown.completed"
EVENTS = (ADVANCED, COMPLETED)
MAX_TIMERS = 200
TIMER_ID = re.compile(r"tmr_[0-9A-Za-z]{1,40}")
#: What `to` of an advance may be, besides a timer id of the rundown.
NEXT, PREVIOUS = "next", "previous"


@dataclass(frozen=True, slots=True)
class Rundown:
    """One rundown as stored."""

    id: str
    account_id: str
    created_at_ms: int
    title: str = ""
    timers: tuple[str, ...] = ()
    current: str | None = None
    auto_advance: bool = False
    version: int = 0
    updated_at_ms: int = 0
    webhook_url: str | None = None
    control_token: str = ""
    #: When the current run of the show reached its end (rundown.completed), None before.
    completed_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RundownChange:
    """The outcome of one step of a rundown: the new rundown (None once deleted), its events."""

    before: Rundown
    rundown: Rundown | None
    events: tuple[TimerEvent, ...]


def dump(rundown: Rundown) -> bytes:
    return orjson.dumps(rundown)


def load(raw: bytes | str) -> Rundown:
    fields = orjson.loads(raw)
    fields["timers"] = tuple(fields.get("timers") or ())
    known = {k: v for k, v in fields.items() if k in Rundown.__dataclass_fields__}
    return Rundown(**known)


def check_timers(value: Any) -> tuple[str, ...]:
    """The ids of `timers` as sent: 1 to MAX_TIMERS distinct timer ids, in show order."""
    if not isinstance(value, list) or not value:
        raise TimerError(f"timers must be a list of 1 to {MAX_TIMERS} timer ids (tmr_…) in "
                         "show order", "timers")
    if len(value) > MAX_TIMERS:
        raise TimerError(f"timers must hold at most {MAX_TIMERS} timer ids, got {len(value)}",
                         "timers")
    for item in value:
        if not isinstance(item, str) or not TIMER_ID.fullmatch(item):
            raise TimerError(f"timers must hold timer ids like tmr_…, got {str(item)[:60]!r}",
                             "timers")
    if len(set(value)) != len(value):
        twice = next(item for item in value if value.count(item) > 1)
        raise TimerError(f"timers must be distinct: {twice} is listed more than once", "timers")
    return tuple(value)


def create(rundown_id: str, account_id: str, fields: dict[str, Any], now_ms: int,
           control_token: str) -> RundownChange:
    if "timers" not in fields:
        raise TimerError("timers is required: the rundown's timer ids in show order", "timers")
    blank = Rundown(id=rundown_id, account_id=account_id, created_at_ms=now_ms)
    listed = check_timers(fields["timers"])
    # A new show is on its first timer: starting that timer starts the show.
    rundown = replace(blank, title=check_title(fields.get("title") or ""),
                      timers=listed, current=listed[0],
                      auto_advance=bool(fields.get("auto_advance", False)), version=1,
                      updated_at_ms=now_ms, webhook_url=fields.get("webhook_url"),
                      control_token=control_token)
    return RundownChange(blank, rundown, ())


def edit(r: Rundown, fields: dict[str, Any], now_ms: int) -> RundownChange:
    """A new title, timers (reordered, added, removed), auto_advance or webhook_url. A current
    timer taken out of the list leaves the show on the one that followed it (not started)."""
    changes: dict[str, Any] = {}
    if "title" in fields:
        changes["title"] = check_title(fields["title"] or "")
    if "timers" in fields:
        changes["timers"] = check_timers(fields["timers"])
        changes["current"] = _current_after(r, changes["timers"])
    if "auto_advance" in fields:
        changes["auto_advance"] = bool(fields["auto_advance"])
    if "webhook_url" in fields:
        changes["webhook_url"] = fields["webhook_url"]
    return RundownChange(r, replace(r, **changes, version=r.version + 1, updated_at_ms=now_ms),
                         ())


def rotate_control_token(r: Rundown, token: str, now_ms: int) -> RundownChange:
    return RundownChange(r, replace(r, control_token=token, version=r.version + 1,
                                    updated_at_ms=now_ms), ())


def delete(r: Rundown) -> RundownChange:
    return RundownChange(r, None, ())


def next_of(r: Rundown, timer_id: str | None) -> str | None:
    """The timer after `timer_id` in the show (the first when None), or None at the end."""
    if timer_id is None:
        return r.timers[0] if r.timers else None
    if timer_id not in r.timers:
        return None
    at = r.timers.index(timer_id)
    return r.timers[at + 1] if at + 1 < len(r.timers) else None


def target(r: Rundown, to: Any) -> str:
    """The timer an advance `to` names: the next, the previous, or one of the rundown's."""
    if to == NEXT:
        found = next_of(r, r.current)
        if found is None:
            raise TimerError("the show is at its last timer: there is no next one; advance to "
                             "a timer id to go back", "to")
        return found
    if to == PREVIOUS:
        if r.current is None or r.timers.index(r.current) == 0:
            raise TimerError("the show is at its first timer (or on none): there is no "
                             "previous one", "to")
        return r.timers[r.timers.index(r.current) - 1]
    if isinstance(to, str) and to in r.timers:
        return to
    raise TimerError(f'to must be "next", "previous" or a timer id of this rundown, got '
                     f"{str(to)[:60]!r}", "to")


def advanced(r: Rundown, to: str, at_ms: int, now_ms: int, **extra: Any) -> RundownChange:
    """The show moves to timer `to` at `at_ms` (now, or an auto-advance's deadline); to the
    current timer itself, it only starts that timer again: no event, the show stays."""
    if to == r.current:
        return RundownChange(r, replace(r, completed_at_ms=None, version=r.version + 1,
                                        updated_at_ms=now_ms), ())
    data = {"from": r.current, "to": to, "position": r.timers.index(to) + 1,
            "timers": len(r.timers), "at": iso(at_ms), **extra}
    after = replace(r, current=to, completed_at_ms=None, version=r.version + 1,
                    updated_at_ms=now_ms)
    return RundownChange(r, after, (TimerEvent(ADVANCED, at_ms, data),))


def is_last(r: Rundown, timer_id: str) -> bool:
    return bool(r.timers) and r.timers[-1] == timer_id


def completed(r: Rundown, at_ms: int, now_ms: int) -> RundownChange | None:
    """The show reached its end at `at_ms` (its last timer, being current, completed); None if
    this run of it has already."""
    if r.completed_at_ms is not None:
        return None
    data = {"last": r.current, "timers": len(r.timers), "at": iso(at_ms)}
    after = replace(r, completed_at_ms=at_ms, version=r.version + 1, updated_at_ms=now_ms)
    return RundownChange(r, after, (TimerEvent(COMPLETED, at_ms, data),))


def without_timer(r: Rundown, timer_id: str, now_ms: int) -> RundownChange:
    """The rundown once a timer of it was deleted: gone from the list; if it was current, the
    show is on the one that followed it."""
    timers = tuple(t for t in r.timers if t != timer_id)
    return RundownChange(r, replace(r, timers=timers, current=_current_after(r, timers),
                                    version=r.version + 1, updated_at_ms=now_ms), ())


def _current_after(r: Rundown, timers: tuple[str, ...]) -> str | None:
    """Where the show is once its list became `timers`: on the same timer if it is still
    there, else on the first of those that followed it (not back at the top: "next" from a
    removed timer must not rerun the show), else on none."""
    if r.current is None or r.current in timers:
        return r.current
    following = r.timers[r.timers.index(r.current) + 1:] if r.current in r.timers else ()
    return next((t for t in following if t in timers), None)
