"""The widget's query parameters, checked in one place.

Every parameter of the reference is read here; unknown parameters are ignored (hosts add their
own, like cache busters). A bad value becomes a `Problem` naming the parameter and what is
allowed, in words the widget shows in the viewer's language (catalog keys `error.*`).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import i18n, timers

THEMES = ("light", "dark", "auto")
FLAGS = ("show_title", "show_date", "alarm", "show_brand")
DEFAULT_DURATION = 300  # the reference gives none; five minutes is the example it uses
DEFAULT_COLOR = "6C63FF"
_HEX = re.compile(r"[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}")
TIMER_ID = re.compile(r"tmr_[0-9A-Za-z]{1,64}")
RUNDOWN_ID = re.compile(r"rnd_[0-9A-Za-z]{1,64}")
_INT = re.compile(r"[+-]?\d{1,12}")
_ECHO = 40  # characters of a bad value repeated back in the message


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad parameter: the catalog key of its message and the values the message needs."""

    param: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str) -> str:
        return i18n.text(lang, self.key, param=self.param, **self.values)


@dataclass(frozen=True, slots=True)
class WidgetParams:
    lang: str
    type: str = timers.COUNTDOWN
    title: str = ""
    duration: int = DEFAULT_DURATION
    target_ms: int | None = None
    timezone: str = "UTC"
    work: int = timers.DEFAULT_WORK
    rest: int = timers.DEFAULT_REST
    rounds: int = timers.DEFAULT_ROUNDS
    theme: str = "dark"
    primary_color: str = DEFAULT_COLOR
    show_title: bool = True
    show_date: bool = True
    alarm: bool = True
    show_brand: bool = True
    timer: str | None = None
    #: A rundown whose current timer the widget follows (instead of one `timer`).
    rundown: str | None = None
    problems: tuple[Problem, ...] = ()


def _echo(value: str) -> str:
    return value if len(value) <= _ECHO else value[:_ECHO] + "…"


def integer(name: str, raw: str, low: int, high: int) -> int | Problem:
    """A whole number from `low` to `high`, or the Problem naming `name`."""
    if _INT.fullmatch(raw.strip()) and low <= int(raw) <= high:
        return int(raw)
    return Problem(name, "error.integer", {"min": low, "max": high, "value": _echo(raw)})


def _target(raw: str) -> int | Problem:
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return Problem("target_date", "error.date", {"value": _echo(raw)})
    return round(moment.timestamp() * 1000)


def _timezone(raw: str) -> str | Problem:
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return Problem("timezone", "error.timezone", {"value": _echo(raw)})
    return raw


def choice(name: str, raw: str, allowed: tuple[str, ...]) -> str | Problem:
    if raw in allowed:
        return raw
    return Problem(name, "error.choice", {"allowed": ", ".join(allowed), "value": _echo(raw)})


def parse(query: Mapping[str, str]) -> WidgetParams:
    """The widget's settings from its query string; bad values are listed in `problems`."""
    values: dict[str, Any] = {"lang": i18n.pick(query.get("lang"))}
    problems: list[Problem] = []

    def keep(name: str, result: Any) -> None:
        if isinstance(result, Problem):
            problems.append(result)
        else:
            values[name] = result

    if "type" in query:
        keep("type", choice("type", query["type"], timers.TYPES))
    if "title" in query:
        title = query["title"]
        keep("title", title if len(title) <= timers.MAX_TITLE else
             Problem("title", "error.too_long", {"max": timers.MAX_TITLE}))
    for name, low in (("duration", 1), ("work", 1), ("rest", 0)):
        if name in query:
            keep(name, integer(name, query[name], low, timers.MAX_TOTAL_S))
    if "rounds" in query:
        keep("rounds", integer("rounds", query["rounds"], 1, timers.MAX_ROUNDS))
    if "target_date" in query:
        keep("target_ms", _target(query["target_date"]))
    if "timezone" in query:
        keep("timezone", _timezone(query["timezone"]))
    if "theme" in query:
        keep("theme", choice("theme", query["theme"], THEMES))
    if "primary_color" in query:
        color = query["primary_color"].removeprefix("#")
        keep("primary_color", color.upper() if _HEX.fullmatch(color) else
             Problem("primary_color", "error.color", {"value": _echo(query["primary_color"])}))
    for name in FLAGS:
        if name in query:
            flag = choice(name, query[name], ("0", "1"))
            keep(name, flag if isinstance(flag, Problem) else flag == "1")
    if "timer" in query:
        keep("timer", query["timer"] if TIMER_ID.fullmatch(query["timer"]) else
             Problem("timer", "error.timer_id", {"value": _echo(query["timer"])}))
    if "rundown" in query:
        keep("rundown", query["rundown"] if RUNDOWN_ID.fullmatch(query["rundown"]) else
             Problem("rundown", "error.rundown_id", {"value": _echo(query["rundown"])}))
        if "timer" in query:
            problems.append(Problem("rundown", "error.timer_or_rundown"))
    live = "timer" in values or "rundown" in values
    if (not live and values.get("type") == timers.EVENT and "target_ms" not in values
            and not any(p.param == "target_date" for p in problems)):
        problems.append(Problem("target_date", "error.required", {"type": timers.EVENT}))
    return WidgetParams(**values, problems=tuple(problems))
