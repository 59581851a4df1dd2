"""The stage display's path and query parameters (`/stage/{id}`: a timer's id, or a rundown's to
follow its current timer), checked as the widget's are: unknown parameters are ignored, a bad
value is a `Problem` naming it and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import i18n
from .widget_params import RUNDOWN_ID, THEMES, TIMER_ID, Problem, choice

FLAGS = ("clock", "mirror", "transparent", "progress")


@dataclass(frozen=True, slots=True)
class StageParams:
    lang: str
    theme: str = "dark"  # a stage is dark: a bright screen dazzles the speaker
    clock: bool = False
    mirror: bool = False
    transparent: bool = False
    progress: bool = True
    problems: tuple[Problem, ...] = ()


def is_rundown(shown_id: str) -> bool:
    """Whether the display's id names a rundown (rnd_…) rather than a timer."""
    return shown_id.startswith("rnd_")


def parse(shown_id: str, query: Mapping[str, str]) -> StageParams:
    """The display's settings from its path and query string; bad values in `problems`."""
    values: dict[str, Any] = {"lang": i18n.pick(query.get("lang"))}
    problems: list[Problem] = []
    if is_rundown(shown_id):
        if not RUNDOWN_ID.fullmatch(shown_id):
            problems.append(Problem("rundown_id", "error.rundown_id", {"value": shown_id[:40]}))
    elif not TIMER_ID.fullmatch(shown_id):
        problems.append(Problem("timer_id", "error.timer_id", {"value": shown_id[:40]}))
    for name, allowed in (("theme", THEMES), *((flag, ("0", "1")) for flag in FLAGS)):
        if name not in query:
            continue
        chosen = choice(name, query[name], allowed)
        if isinstance(chosen, Problem):
            problems.append(chosen)
        else:
            values[name] = chosen if name == "theme" else chosen == "1"
    return StageParams(**values, problems=tuple(problems))
