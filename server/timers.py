"""The pure timer core: types, transitions and progress.

Sans-I/O in the way of websockets' protocol layer: every function takes `now_ms` (epoch
milliseconds, wall clock) and returns a new immutable `Timer` plus the events the transition
emits. Nothing here awaits, reads a clock or touches storage, so it is tested with plain tables.

Time model. A timer's running time is `elapsed_ms` (closed run segments) plus, while running,
`now - running_since_ms`. Because the anchor is absolute wall-clock time, any process that holds
the committed state computes the same remaining time, and a restarted server resumes where the
clock says. `adjust_ms` is the presenter's ± time: it shifts the timer's position, so
position = running time - adjust_ms and remaining = total - position.

Overtime. A countdown or event timer with `overtime` completes at zero like any other (the
completion is committed, stamped with its deadline) and then goes on counting in state
`overtime`: its running time is not stopped, so remaining goes below zero, until `stop` (→
completed) or `reset`. `completed_at_ms` marks that it has been through zero; a pause in overtime
keeps it, so resume goes back to `overtime`.

Warnings. `warn_at` and `danger_at` are seconds of remaining time. Crossing one while counting is
a deadline of the timer like its completion (`next_deadline` yields the earliest), fired once:
`warned` is the deepest level fired in this run (0 none, 1 warning, 2 danger). A reset, or an
adjust that lifts the remaining time back above a threshold, lowers it again (re-arms).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import zoneinfo
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

COUNTDOWN, EVENT, INTERVAL = "countdown", "event", "interval"
TYPES = (COUNTDOWN, EVENT, INTERVAL)


class State(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    OVERTIME = "overtime"


#: What a timer's remaining time means at an instant (`level`); pages colour by it.
NORMAL, WARNING, DANGER = "normal", "warning", "danger"
LEVELS = (NORMAL, WARNING, DANGER, "overtime")


WORK, REST = "work", "rest"

STARTED = "timer.started"
PAUSED = "timer.paused"
RESUMED = "timer.resumed"
COMPLETED = "timer.completed"
RESET = "timer.reset"
ADJUSTED = "timer.adjusted"
ROUND_END = "interval.round_end"
INTERVAL_COMPLETED = "interval.completed"
DELETED = "timer.deleted"
WARNED = "timer.warning"
MESSAGE = "timer.message"
STOPPED = "timer.stopped"
WEBHOOK_TEST = "webhook.test"
#: Events a timer's webhook_events filter may name (webhook.test always goes to the URL).
EVENTS = (STARTED, PAUSED, RESUMED, COMPLETED, RESET, ADJUSTED, ROUND_END, INTERVAL_COMPLETED,
          DELETED, WARNED, MESSAGE, STOPPED)

COMMANDS = ("start", "pause", "resume", "reset", "adjust", "stop")
#: Timer types that may count on past zero.
OVERTIME_TYPES = (COUNTDOWN, EVENT)
MAX_MESSAGE = 280

#: The longest any timer may run in all, whatever its type: a countdown's duration with its
#: adjustments, an interval's rounds times (work + rest), an event's target from now.
MAX_TOTAL_DAYS = 3660  # about ten years
MAX_TOTAL_S = MAX_TOTAL_DAYS * 86400
MAX_ROUNDS = 1000
MAX_TITLE = 200
DEFAULT_WORK, DEFAULT_REST, DEFAULT_ROUNDS = 20, 10, 8
#: The allowed values of each integer field a request may carry (inclusive).
RANGES = {"duration": (1, MAX_TOTAL_S), "work": (1, MAX_TOTAL_S), "rest": (0, MAX_TOTAL_S),
          "rounds": (1, MAX_ROUNDS), "seconds": (-MAX_TOTAL_S, MAX_TOTAL_S)}


class TimerError(ValueError):
    """A value or transition a user asked for that is not allowed; `param` names the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class Timer:
    """One timer as stored. Fields the core does not interpret ride along unchanged."""

    id: str
    account_id: str
    type: str
    title: str
    created_at_ms: int
    state: str = State.IDLE
    version: int = 0
    updated_at_ms: int = 0
    duration_ms: int = 0
    target_ms: int | None = None
    target_date: str | None = None
    #: IANA zone the timer is shown in; None: not set (an event timer's is UTC then; other
    #: types show a scheduled start with the offset it was written with).
    timezone: str | None = None
    work_ms: int = DEFAULT_WORK * 1000
    rest_ms: int = DEFAULT_REST * 1000
    rounds: int = DEFAULT_ROUNDS
    elapsed_ms: int = 0
    running_since_ms: int | None = None
    adjust_ms: int = 0
    rounds_done: int = 0
    started_at_ms: int | None = None
    paused_at_ms: int | None = None
    completed_at_ms: int | None = None
    webhook_url: str | None = None
    webhook_events: tuple[str, ...] | None = None
    control_token: str = ""
    #: A scheduled start (countdown, interval): as given, and in epoch ms; cleared once started.
    start_at: str | None = None
    start_at_ms: int | None = None
    overtime: bool = False
    warn_at: int | None = None  # seconds of remaining time
    danger_at: int | None = None
    warned: int = 0  # the deepest threshold fired in this run: 0 none, 1 warn_at, 2 danger_at
    #: For the people on stage: {"text", "flash", "at_ms"} or None.
    message: dict[str, Any] | None = None
    blackout: bool = False


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """Something that happened to a timer: `at_ms` is when it happened by the timer's clock."""

    name: str
    at_ms: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one transition: the new timer (None once deleted) and its events."""

    before: Timer
    timer: Timer | None
    events: tuple[TimerEvent, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    remaining_ms: int
    elapsed_ms: int
    total_ms: int
    round: int | None
    phase: str | None


# -- serialisation (bytes are what engines store) ---------------------------------------------


def dump(timer: Timer) -> bytes:
    return orjson.dumps(timer)


def load(raw: bytes | str) -> Timer:
    return from_dict(orjson.loads(raw))


def control_digest(token: str) -> str:
    """What the state channel carries instead of a control token: its SHA-256 (hex), which
    tells a process whether a presenter's token is still the timer's without the token
    crossing pub/sub; "" for none."""
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


_FIELDS = tuple(Timer.__dataclass_fields__)
_SECRETS = {"control_token": "", "webhook_url": None, "webhook_events": None}


def on_the_wire(t: Timer) -> dict[str, Any]:
    """The timer as the state channel carries it (`from_dict` takes it back): what viewers may
    see and the hub needs, without its secrets (the control token, the webhook URL and its
    events filter). A dict, not a `replace`: this is on every commit, and four times cheaper."""
    wire = {name: getattr(t, name) for name in _FIELDS}
    wire.update(_SECRETS)
    return wire


def from_dict(fields: dict[str, Any]) -> Timer:
    if fields.get("webhook_events") is not None:
        fields["webhook_events"] = tuple(fields["webhook_events"])
    return Timer(**fields)


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds: 2026-05-10T14:30:00.000Z."""
    if ms is None:
        return None
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def seconds(ms: int) -> int:
    """Whole seconds as people see them: a remaining 0.2 s still shows as 1."""
    return math.ceil(ms / 1000)


# -- progress ---------------------------------------------------------------------------------


def _base_total_ms(t: Timer) -> int:
    if t.type == INTERVAL:
        return t.rounds * (t.work_ms + t.rest_ms)
    return t.duration_ms


def planned_ms(t: Timer) -> int | None:
    """How long the timer is meant to run, as set (no adjustments); None for an event timer,
    which runs until its target_date whenever it starts."""
    return None if t.type == EVENT else _base_total_ms(t)


def _end_position_ms(t: Timer) -> int:
    """Running time at which a countdown or interval ends (includes adjustments)."""
    return _base_total_ms(t) + t.adjust_ms


def _counting(t: Timer) -> bool:
    """Its running time grows: running, or in overtime."""
    return t.state in (State.RUNNING, State.OVERTIME) and t.running_since_ms is not None


def _running_ms(t: Timer, now_ms: int) -> int:
    """Running time so far: never past the timer's end, unless it may count on in overtime."""
    ran = t.elapsed_ms
    if _counting(t):
        ran += max(0, now_ms - t.running_since_ms)  # type: ignore[operator]
    if t.overtime and t.type in OVERTIME_TYPES and t.state != State.COMPLETED:
        return ran
    if t.type == EVENT:
        if _counting(t) and t.target_ms is not None:
            ran = min(ran, t.elapsed_ms + max(0, t.target_ms - t.running_since_ms))  # type: ignore[operator]
        return ran
    return min(ran, _end_position_ms(t))


def progress(t: Timer, now_ms: int) -> Progress:
    """Remaining and elapsed time, round and phase of `t` at `now_ms`."""
    if t.type == EVENT:
        elapsed = _running_ms(t, now_ms)
        if t.state == State.COMPLETED:
            return Progress(0, elapsed, elapsed, None, None)
        # Below zero only while it counts on in overtime.
        floor = None if t.overtime and _counting(t) else 0
        remaining = _at_least((t.target_ms or 0) - now_ms, floor)
        return Progress(remaining, elapsed, remaining + elapsed, None, None)
    elapsed = _running_ms(t, now_ms)
    total = _end_position_ms(t)
    floor = None if t.overtime else 0  # (only countdowns may have overtime)
    remaining = 0 if t.state == State.COMPLETED else _at_least(total - elapsed, floor)
    if t.type != INTERVAL:
        return Progress(remaining, elapsed, total, None, None)
    if t.state == State.COMPLETED:
        return Progress(0, elapsed, total, t.rounds, None)
    position = min(max(0, elapsed - t.adjust_ms), _base_total_ms(t) - 1)
    cycle = t.work_ms + t.rest_ms
    round_index, offset = divmod(position, cycle)
    phase = WORK if offset < t.work_ms else REST
    return Progress(remaining, elapsed, total, round_index + 1, phase)


def _at_least(value: int, floor: int | None) -> int:
    return value if floor is None else max(floor, value)


def overtime_ms(t: Timer, now_ms: int, p: Progress | None = None) -> int:
    """How long the timer has counted past zero (0 before it got there); once stopped, how
    long it had. `p`: its progress at `now_ms`, if the caller has it."""
    if not (t.overtime and t.type in OVERTIME_TYPES):
        return 0
    if t.state != State.COMPLETED:
        return max(0, -(p or progress(t, now_ms)).remaining_ms)
    if t.type == EVENT:
        return max(0, t.elapsed_ms - max(0, (t.target_ms or 0) - (t.started_at_ms or 0)))
    return max(0, t.elapsed_ms - _end_position_ms(t))


def _thresholds(t: Timer) -> list[tuple[int, int]]:
    """(level number, seconds of remaining time) of the thresholds set, outermost first."""
    return [(n, s) for n, s in ((1, t.warn_at), (2, t.danger_at)) if s is not None]


def level(t: Timer, now_ms: int, p: Progress | None = None) -> str:
    """normal, warning, danger or overtime at `now_ms`, from the same fields pages have.
    `p`: its progress at `now_ms`, if the caller has it."""
    p = p or progress(t, now_ms)
    if t.state == State.OVERTIME or p.remaining_ms < 0 or (
            t.state == State.PAUSED and t.completed_at_ms is not None):
        return "overtime"
    crossed = _crossed(t, p.remaining_ms)
    return (NORMAL, WARNING, DANGER)[crossed]


def _crossed(t: Timer, remaining_ms: int) -> int:
    """The deepest threshold that `remaining_ms` is at or below (0: none)."""
    deepest = 0
    for number, at_s in _thresholds(t):
        if remaining_ms <= at_s * 1000:
            deepest = max(deepest, number)
    return deepest


def _threshold_deadline(t: Timer, at_s: int) -> int:
    """When a counting timer's remaining time reaches `at_s` seconds."""
    if t.type == EVENT:
        return (t.target_ms or 0) - at_s * 1000
    return _deadline_for_position(t, _base_total_ms(t) - at_s * 1000)


def _pending_warnings(t: Timer) -> list[tuple[int, int]]:
    """(deadline, level number) of the thresholds still to fire in this run, earliest first."""
    if t.state != State.RUNNING:
        return []
    return sorted((_threshold_deadline(t, at_s), number) for number, at_s in _thresholds(t)
                  if number > t.warned)


def _deadline_for_position(t: Timer, position_ms: int) -> int:
    """Wall-clock ms at which a running countdown/interval reaches schedule `position_ms`."""
    assert t.running_since_ms is not None
    return t.running_since_ms + position_ms + t.adjust_ms - t.elapsed_ms


def next_deadline(t: Timer) -> int | None:
    """When the scheduler must next look at `t` (epoch ms), or None if nothing is due ever."""
    if t.state == State.IDLE:
        return t.start_at_ms
    if t.state != State.RUNNING:
        return None
    due = _completion_deadline(t)
    warnings = _pending_warnings(t)
    return min(due, warnings[0][0]) if warnings else due


def _completion_deadline(t: Timer) -> int:
    """When a running timer next reaches a round end or zero."""
    if t.type == EVENT:
        return t.target_ms or 0
    if t.type == INTERVAL:
        return _deadline_for_position(t, (t.rounds_done + 1) * (t.work_ms + t.rest_ms))
    return _deadline_for_position(t, t.duration_ms)


# -- creation and edits -----------------------------------------------------------------------


def check_range(name: str, value: int) -> int:
    """`value` if it lies in the field's range (RANGES), else a TimerError that names it."""
    low, high = RANGES[name]
    if not low <= value <= high:
        unit = "" if name == "rounds" else " seconds"
        raise TimerError(f"{name} must be between {low} and {high}{unit}, got {value}", name)
    return value


def _check_total(t: Timer, now_ms: int, param: str) -> Timer:
    """`t` if it runs at most MAX_TOTAL_S in all, else a TimerError naming `param`."""
    if t.type == EVENT:
        if t.target_ms is not None and t.target_ms - now_ms > MAX_TOTAL_S * 1000:
            raise TimerError(f"target_date must be at most {MAX_TOTAL_DAYS} days ahead (no "
                             f"timer runs longer), got {t.target_date}", "target_date")
        return t
    total_s = seconds(_end_position_ms(t))
    if total_s > MAX_TOTAL_S:
        what = ("duration" if t.type == COUNTDOWN else
                f"{t.rounds} rounds of {seconds(t.work_ms)} + {seconds(t.rest_ms)} seconds")
        if param == "seconds":
            what = "the time added"
        raise TimerError(f"a timer runs at most {MAX_TOTAL_DAYS} days ({MAX_TOTAL_S} seconds) "
                         f"in all; {what} would make {total_s} seconds", param)
    return t


def _int_seconds(value: int, name: str) -> int:
    return check_range(name, value) * 1000


def parse_target_date(value: str, now_ms: int, name: str = "target_date") -> int:
    """ISO 8601 with an offset or Z, in the future → epoch ms (`name`: the field, for errors)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise TimerError(
            f"{name} must be an ISO 8601 date-time with an offset, "
            f"like 2026-05-10T14:30:00Z, got {value!r}", name) from None
    if moment.tzinfo is None:
        raise TimerError(f"{name} must carry a UTC offset or Z, like 2026-05-10T14:30:00+02:00",
                         name)
    target_ms = round(moment.timestamp() * 1000)
    if target_ms <= now_ms:
        raise TimerError(f"{name} must be in the future, got {value} "
                         f"(now is {iso(now_ms)})", name)
    return target_ms


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TimerError(f"timezone must be an IANA time zone like Europe/Paris or UTC, "
                         f"got {name!r}", "timezone") from None
    return name


def check_title(title: str) -> str:
    if len(title) > MAX_TITLE:
        raise TimerError(f"title must be at most {MAX_TITLE} characters, got {len(title)}",
                         "title")
    return title


_TYPE_FIELDS = {
    COUNTDOWN: {"duration"},
    EVENT: {"target_date"},
    INTERVAL: {"work", "rest", "rounds"},
}
_TYPED_FIELDS = frozenset().union(*_TYPE_FIELDS.values())
#: Fields that change only while a timer is idle (an event's target_date: until it completes).
TIMING_FIELDS = _TYPED_FIELDS | {"start_at"}


def _timing(timer_type: str, fields: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """Validated timing fields of `fields` for a timer of `timer_type`, as Timer attributes."""
    for name in sorted(_TYPED_FIELDS & fields.keys() - _TYPE_FIELDS[timer_type]):
        owner = next(t for t, names in _TYPE_FIELDS.items() if name in names)
        raise TimerError(f"{name} applies to {owner} timers, not {timer_type}", name)
    out: dict[str, Any] = {}
    if "duration" in fields:
        out["duration_ms"] = _int_seconds(fields["duration"], "duration")
    if "target_date" in fields:
        out["target_ms"] = parse_target_date(fields["target_date"], now_ms)
        out["target_date"] = fields["target_date"]
    if "timezone" in fields:
        out["timezone"] = check_timezone(fields["timezone"])
    if "work" in fields:
        out["work_ms"] = _int_seconds(fields["work"], "work")
    if "rest" in fields:
        out["rest_ms"] = _int_seconds(fields["rest"], "rest")
    if "rounds" in fields:
        out["rounds"] = check_range("rounds", fields["rounds"])
    if "start_at" in fields:
        if timer_type == EVENT:
            raise TimerError("start_at applies to countdown and interval timers; an event timer "
                             "counts to its target_date from the start", "start_at")
        value = fields["start_at"]
        out["start_at"] = value
        out["start_at_ms"] = None if value is None else parse_target_date(value, now_ms,
                                                                          "start_at")
        if out["start_at_ms"] is not None and out["start_at_ms"] - now_ms > MAX_TOTAL_S * 1000:
            raise TimerError(f"start_at must be at most {MAX_TOTAL_DAYS} days ahead, got "
                             f"{value}", "start_at")
    return out


def create(timer_id: str, account_id: str, fields: dict[str, Any], now_ms: int,
           control_token: str = "") -> Change:
    """A new timer from API fields. An event timer starts at once and counts to its target."""
    timer_type = fields.get("type", COUNTDOWN)
    if timer_type not in TYPES:
        raise TimerError(f"type must be one of {', '.join(TYPES)}, got {timer_type!r}", "type")
    timing = _timing(timer_type, fields, now_ms)
    if timer_type == EVENT:
        timing.setdefault("timezone", "UTC")
    if timer_type == COUNTDOWN and "duration_ms" not in timing:
        raise TimerError("duration is required for countdown timers (seconds, 1 or more)",
                         "duration")
    if timer_type == EVENT and "target_ms" not in timing:
        raise TimerError("target_date is required for event timers (ISO 8601 with offset)",
                         "target_date")
    blank = Timer(id=timer_id, account_id=account_id, type=timer_type,
                  title=check_title(fields.get("title") or ""), created_at_ms=now_ms,
                  updated_at_ms=now_ms, control_token=control_token,
                  webhook_url=fields.get("webhook_url"),
                  webhook_events=_events_filter(fields.get("webhook_events")), **timing)
    blank = replace(blank, **_room_fields(blank, fields))
    timer = _check_total(replace(blank, version=1), now_ms, _total_param(fields))
    _check_thresholds(timer, now_ms)
    if timer_type == EVENT:
        started = _start(timer, now_ms)
        return Change(blank, started.timer, started.events)
    return Change(blank, timer, ())


#: Fields of the live room that a create or an edit may set (DESIGN §10).
ROOM_FIELDS = ("overtime", "warn_at", "danger_at", "blackout")


def _room_fields(t: Timer, fields: dict[str, Any]) -> dict[str, Any]:
    out = {name: fields[name] for name in ROOM_FIELDS if name in fields}
    if out.get("overtime") and t.type not in OVERTIME_TYPES:
        raise TimerError(f"overtime applies to {' and '.join(OVERTIME_TYPES)} timers, not "
                         f"{t.type}", "overtime")
    return out


def _check_thresholds(t: Timer, now_ms: int) -> None:
    """warn_at and danger_at: whole seconds from 1 to below the timer's length, danger first."""
    total_ms = progress(t, now_ms).total_ms if t.type != EVENT else max(
        0, (t.target_ms or 0) - (t.started_at_ms or now_ms))
    for name in ("warn_at", "danger_at"):
        value = getattr(t, name)
        if value is not None and not 1 <= value * 1000 < total_ms:
            raise TimerError(f"{name} must be a whole number of seconds from 1 to below the "
                             f"timer's length ({seconds(total_ms)} s), or null; got {value}", name)
    if t.warn_at is not None and t.danger_at is not None and t.danger_at >= t.warn_at:
        raise TimerError(f"danger_at must be below warn_at ({t.warn_at}), got {t.danger_at}",
                         "danger_at")


def _total_param(fields: dict[str, Any]) -> str:
    """The field to name when the timing fields given make a timer too long."""
    return next((n for n in ("duration", "rounds", "work", "rest") if n in fields), "rounds")


def _events_filter(names: list[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    for name in names:
        if name not in EVENTS:
            raise TimerError(f"webhook_events may name {', '.join(EVENTS)}; got {name!r}",
                             "webhook_events")
    return tuple(dict.fromkeys(names))


def edit(t: Timer, fields: dict[str, Any], now_ms: int) -> Change:
    """Change title, webhook settings, or (while idle) the timing fields."""
    if t.state == State.COMPLETED and TIMING_FIELDS & fields.keys():
        raise TimerError("a completed timer's timing cannot change; reset it first",
                         sorted(TIMING_FIELDS & fields.keys())[0])
    if t.state != State.IDLE and t.type != EVENT and TIMING_FIELDS & fields.keys():
        name = sorted(TIMING_FIELDS & fields.keys())[0]
        raise TimerError(f"{name} can change only while the timer is idle (it is {t.state}); "
                         "reset it first", name)
    changes: dict[str, Any] = _timing(t.type, fields, now_ms)
    changes.update(_room_fields(t, fields))
    if "title" in fields:
        changes["title"] = check_title(fields["title"] or "")
    if "webhook_url" in fields:
        changes["webhook_url"] = fields["webhook_url"]
    if "webhook_events" in fields:
        changes["webhook_events"] = _events_filter(fields["webhook_events"])
    timer = _check_total(replace(t, **changes, version=t.version + 1, updated_at_ms=now_ms),
                         now_ms, _total_param(fields))
    if {"warn_at", "danger_at"} & fields.keys() or TIMING_FIELDS & fields.keys():
        _check_thresholds(timer, now_ms)
        # A threshold set below the time left fires when reached; one already passed does not.
        timer = replace(timer, warned=_crossed(timer, progress(timer, now_ms).remaining_ms)
                        if timer.state == State.RUNNING else 0)
    if t.state == State.OVERTIME and fields.get("overtime") is False:
        raise TimerError("overtime cannot be turned off while the timer is in overtime; stop "
                         "or reset it first", "overtime")
    events: tuple[TimerEvent, ...] = ()
    if t.type == EVENT and t.state == State.RUNNING and "target_ms" in changes:
        shift = timer.target_ms - (t.target_ms or 0)  # type: ignore[operator]
        events = (_event(ADJUSTED, timer, now_ms, seconds=round(shift / 1000)),)
    return Change(t, timer, events)


def set_message(t: Timer, text: str, flash: bool, now_ms: int) -> Change:
    """A message for the people on stage, shown on every display of the timer."""
    if not text.strip() or len(text) > MAX_MESSAGE:
        raise TimerError(f"text must be 1 to {MAX_MESSAGE} characters and not only spaces, "
                         f"got {len(text)}", "text")
    if any((ord(c) < 32 and c != "\n") or ord(c) == 127 for c in text):
        raise TimerError("text may hold line breaks but no other control characters", "text")
    message = {"text": text, "flash": flash, "at_ms": now_ms}
    timer = replace(t, message=message, version=t.version + 1, updated_at_ms=now_ms)
    return Change(t, timer, (_event(MESSAGE, timer, now_ms, message=message_json(message)),))


def clear_message(t: Timer, now_ms: int) -> Change | None:
    """Take the message down; None when there is none."""
    if t.message is None:
        return None
    timer = replace(t, message=None, version=t.version + 1, updated_at_ms=now_ms)
    return Change(t, timer, (_event(MESSAGE, timer, now_ms, message=None),))


def message_json(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {"text": message["text"], "flash": message["flash"], "at": iso(message["at_ms"])}


def rotate_control_token(t: Timer, token: str, now_ms: int) -> Change:
    """A new control token; presenters holding the old one lose control."""
    return Change(t, replace(t, control_token=token, version=t.version + 1,
                             updated_at_ms=now_ms), ())


def delete(t: Timer, now_ms: int) -> Change:
    return Change(t, None, (_event(DELETED, t, now_ms),))


# -- transitions ------------------------------------------------------------------------------


def _event(name: str, t: Timer, at_ms: int, **extra: Any) -> TimerEvent:
    """An event whose data holds the state and what the event needs; numbers are integers."""
    p = progress(t, at_ms)
    data: dict[str, Any] = {"state": t.state if name != DELETED else "deleted",
                            "duration": seconds(_base_total_ms(t)) if t.type != EVENT else
                            seconds(p.total_ms),
                            "remaining": seconds(p.remaining_ms)}
    if t.type == INTERVAL:
        data.update(round=p.round, rounds=t.rounds, phase=p.phase)
    data.update(extra)
    return TimerEvent(name, at_ms, data)


def _start(t: Timer, now_ms: int, **extra: Any) -> Change:
    """Start at `now_ms` (by hand, or at a scheduled start_at, which it clears)."""
    if t.type == EVENT and (t.target_ms or 0) <= now_ms:
        raise TimerError(f"target_date {t.target_date} has passed; set a future target_date",
                         "target_date")
    timer = replace(t, state=State.RUNNING, elapsed_ms=0, running_since_ms=now_ms,
                    rounds_done=0, started_at_ms=now_ms, paused_at_ms=None, completed_at_ms=None,
                    warned=0, start_at=None, start_at_ms=None)
    return Change(t, timer, (_event(STARTED, timer, now_ms, started_at=iso(now_ms), **extra),))


def _pause(t: Timer, now_ms: int) -> Change:
    if t.type == EVENT:
        raise TimerError("event timers count to their target_date and cannot be paused", "state")
    assert t.running_since_ms is not None
    timer = replace(t, state=State.PAUSED, running_since_ms=None, paused_at_ms=now_ms,
                    elapsed_ms=_running_ms(t, now_ms))
    return Change(t, timer, (_event(PAUSED, timer, now_ms, paused_at=iso(now_ms),
                                    elapsed=_running_ms(t, now_ms) // 1000),))


def _resume(t: Timer, now_ms: int) -> Change:
    # A timer paused in overtime has been through zero (completed_at_ms): it goes back there.
    state = State.OVERTIME if t.completed_at_ms is not None else State.RUNNING
    timer = replace(t, state=state, running_since_ms=now_ms, paused_at_ms=None)
    return Change(t, timer, (_event(RESUMED, timer, now_ms, resumed_at=iso(now_ms)),))


def _reset(t: Timer, now_ms: int) -> Change:
    if t.state == State.IDLE and t.adjust_ms == 0:
        raise TimerError("cannot reset a timer that is idle: it has not started, and no time "
                         "was added or removed", "state")
    timer = replace(t, state=State.IDLE, elapsed_ms=0, running_since_ms=None, adjust_ms=0,
                    rounds_done=0, started_at_ms=None, paused_at_ms=None, completed_at_ms=None,
                    warned=0)
    return Change(t, timer, (_event(RESET, timer, now_ms),))


def _stop(t: Timer, now_ms: int) -> Change:
    """Stop where it stands: completed, with how long it ran past zero (0 if it did not)."""
    over = overtime_ms(t, now_ms)
    timer = replace(t, state=State.COMPLETED, elapsed_ms=_running_ms(t, now_ms),
                    running_since_ms=None, paused_at_ms=None,
                    completed_at_ms=t.completed_at_ms or now_ms)
    return Change(t, timer, (_event(STOPPED, timer, now_ms, overtime=over // 1000,
                                    stopped_at=iso(now_ms)),))


def _adjust(t: Timer, now_ms: int, delta_s: int) -> Change:
    """Add (delta > 0) or remove time. Never below zero remaining; on an interval, adding time
    rewinds at most to the start of the current round, so no round end is ever emitted twice."""
    if t.type == EVENT:
        raise TimerError("event timers count to their target_date; change target_date instead",
                         "seconds")
    if t.completed_at_ms is not None:
        raise TimerError("cannot adjust a timer that is past zero; stop or reset it", "state")
    if delta_s == 0:
        raise TimerError(f"seconds must be a non-zero whole number between -{MAX_TOTAL_S} "
                         f"and {MAX_TOTAL_S}, got 0", "seconds")
    check_range("seconds", delta_s)
    ran = _running_ms(t, now_ms)
    position = ran - t.adjust_ms
    new_position = position - delta_s * 1000
    floor = -MAX_TOTAL_S * 1000
    if t.type == INTERVAL:
        floor = t.rounds_done * (t.work_ms + t.rest_ms)
    new_position = max(floor, min(new_position, _base_total_ms(t)))
    if t.state == State.IDLE and new_position >= _base_total_ms(t):
        raise TimerError("cannot remove all the time from an idle timer", "seconds")
    applied_ms = position - new_position
    if applied_ms == 0:
        raise TimerError("nothing to adjust: the timer is already at the limit of its schedule",
                         "seconds")
    timer = _check_total(replace(t, adjust_ms=t.adjust_ms + applied_ms), now_ms, "seconds")
    # Time added back above a threshold re-arms it; time removed past one leaves it to fire.
    timer = replace(timer, warned=min(timer.warned,
                                      _crossed(timer, progress(timer, now_ms).remaining_ms)))
    return Change(t, timer, (_event(ADJUSTED, timer, now_ms, seconds=round(applied_ms / 1000)),))


_ALLOWED = {
    "start": {State.IDLE},
    "pause": {State.RUNNING, State.OVERTIME},
    "resume": {State.PAUSED},
    "reset": {State.IDLE, State.RUNNING, State.PAUSED, State.COMPLETED, State.OVERTIME},
    "adjust": {State.IDLE, State.RUNNING, State.PAUSED},
    "stop": {State.RUNNING, State.PAUSED, State.OVERTIME},
}


def advance(t: Timer, now_ms: int) -> Change | None:
    """Fire what is due at `now_ms`, in the order it came due: warnings, round ends and the
    completion, each stamped with its own deadline and lateness. None if nothing is due. A
    deadline that passed long ago (a server was down) fires once, late, with `late_ms` saying
    by how much."""
    due = next_deadline(t)
    if due is None or due > now_ms:
        return None
    events: list[TimerEvent] = []
    timer = t
    if timer.state == State.IDLE and timer.start_at_ms is not None:
        # The scheduled start, anchored at start_at itself: a server that notices it late
        # starts the timer late, but with the time it would have run already run.
        scheduled = _start(timer, timer.start_at_ms, scheduled=True,
                           late_ms=now_ms - timer.start_at_ms)
        assert scheduled.timer is not None
        timer = scheduled.timer
        events += scheduled.events
    while timer.state == State.RUNNING:
        boundary = _completion_deadline(timer)
        warnings = _pending_warnings(timer)
        if warnings and warnings[0][0] <= min(boundary, now_ms):
            at, number = warnings[0]
            timer = replace(timer, warned=number)
            at_s = timer.warn_at if number == 1 else timer.danger_at
            events.append(_event(WARNED, timer, at, level=(WARNING, DANGER)[number - 1],
                                 remaining=at_s, late_ms=now_ms - at))
            continue
        if boundary > now_ms:
            break
        timer = _reach(timer, boundary, now_ms, events)
    return Change(t, replace(timer, version=t.version + 1, updated_at_ms=now_ms), tuple(events))


def _reach(t: Timer, boundary: int, now_ms: int, events: list[TimerEvent]) -> Timer:
    """`t` at its next round end or zero, reached at `boundary`; appends what that emits."""
    late = {"late_ms": now_ms - boundary}
    if t.type == INTERVAL:
        timer = replace(t, rounds_done=t.rounds_done + 1)
        if timer.rounds_done < t.rounds:
            events.append(_event(ROUND_END, timer, boundary, **late, round=timer.rounds_done,
                                 phase=REST))
            return timer
        timer = _completed(timer, boundary)
        events += [_event(ROUND_END, timer, boundary, **late, round=t.rounds, phase=REST),
                   _event(INTERVAL_COMPLETED, timer, boundary, **late, round=t.rounds),
                   _completion_event(timer, _running_ms(t, boundary), boundary, now_ms)]
        return timer
    ran = _running_ms(t, boundary)
    if t.overtime:
        # Zero is reached and announced like any completion; the timer then counts on.
        timer = replace(t, state=State.OVERTIME, completed_at_ms=boundary)
    else:
        timer = _completed(t, boundary)
    events.append(_completion_event(timer, ran, boundary, now_ms))
    return timer


def _completed(t: Timer, at_ms: int) -> Timer:
    return replace(t, state=State.COMPLETED, elapsed_ms=_running_ms(t, at_ms),
                   running_since_ms=None, completed_at_ms=at_ms)


def _completion_event(t: Timer, ran_ms: int, at_ms: int, now_ms: int) -> TimerEvent:
    return _event(COMPLETED, t, at_ms, actual_duration=round(ran_ms / 1000),
                  started_at=iso(t.started_at_ms), completed_at=iso(at_ms),
                  late_ms=now_ms - at_ms)


def apply(t: Timer, command: str, now_ms: int, *, seconds: int = 0) -> Change:
    """Run a presenter's or the API's command at `now_ms`: first fire whatever was already due
    (a pause that arrives after the deadline finds the timer completed), then the command, then
    whatever the command made due (removing time can end a round). One version step in all."""
    if command not in COMMANDS:
        raise TimerError(f"action must be one of {', '.join(COMMANDS)}, got {command!r}",
                         "action")
    settled = advance(t, now_ms)
    current = settled.timer if settled else t
    assert current is not None
    events = list(settled.events) if settled else []
    if current.state not in _ALLOWED[command]:
        raise TimerError(f"cannot {command} a timer that is {current.state}"
                         + ("; reset it first" if current.state == State.COMPLETED else ""),
                         "state")
    step = {"start": _start, "pause": _pause, "resume": _resume, "reset": _reset,
            "stop": _stop}.get(command)
    done = step(current, now_ms) if step else _adjust(current, now_ms, seconds)
    assert done.timer is not None
    events += done.events
    after = done.timer
    follow = advance(after, now_ms)
    if follow:
        assert follow.timer is not None
        after, events = follow.timer, events + list(follow.events)
    return Change(t, replace(after, version=t.version + 1, updated_at_ms=now_ms), tuple(events))


#: Declarative targets of `PATCH /timers/{id}/state` mapped to the command from each state.
_STATE_COMMANDS = {
    State.RUNNING: {State.IDLE: "start", State.PAUSED: "resume"},
    State.PAUSED: {State.RUNNING: "pause", State.OVERTIME: "pause"},
    State.IDLE: {State.RUNNING: "reset", State.PAUSED: "reset", State.COMPLETED: "reset",
                 State.OVERTIME: "reset"},
    State.COMPLETED: {State.RUNNING: "stop", State.PAUSED: "stop", State.OVERTIME: "stop"},
}


def command_for_state(t: Timer, target: str, now_ms: int) -> str | None:
    """The command that takes `t` to state `target`; None when it is there already."""
    try:
        wanted = State(target)
    except ValueError:
        raise TimerError("state must be one of running, paused, idle, completed, got "
                         + repr(target), "state") from None
    if wanted == State.OVERTIME:
        raise TimerError("state must be one of running, paused, idle, completed; a timer "
                         "goes into overtime by itself", "state")
    settled = advance(t, now_ms)
    current = settled.timer if settled and settled.timer else t
    # A timer in overtime is running, past zero.
    if current.state == wanted or (wanted, current.state) == (State.RUNNING, State.OVERTIME):
        return None
    command = _STATE_COMMANDS[wanted].get(State(current.state))
    if command is None:
        if wanted == State.PAUSED and t.type == EVENT:
            raise TimerError("event timers count to their target_date and cannot be paused",
                             "state")
        raise TimerError(f"cannot go from {current.state} to {wanted}"
                         + ("; reset it first" if current.state == State.COMPLETED else ""),
                         "state")
    return command
