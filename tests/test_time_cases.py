"""The time arithmetic's shared cases (tests/data/time_cases.json) against the server's core.
tests/js/time.test.js runs the same cases against the pages' module, server/static/time.js,
so the two can never disagree on what a timer shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server import timer_json, timers

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "time_cases.json").read_text(encoding="utf-8"))["cases"]
#: What server/static/time.js reads of a public timer.
READ_BY_THE_PAGES = {"type", "state", "remaining_ms", "elapsed_ms", "total_ms", "server_time",
                     "work", "rest", "rounds", "overtime", "warn_at", "danger_at",
                     "completed_at"}


def _timer(case: dict[str, Any]) -> timers.Timer:
    return timers.Timer(id="tmr_case", account_id="acct_case", title="",
                        created_at_ms=case["snapshot"]["server_time"] - 60_000, **case["timer"])


def test_the_cases_cover_every_type_and_state() -> None:
    covered = {(case["timer"]["type"], case["snapshot"]["state"]) for case in CASES}
    # Events cannot be paused; intervals have no overtime.
    assert covered == {(kind, str(state)) for kind in timers.TYPES for state in timers.State
                       if (kind, state) not in {("event", "paused"), ("interval", "overtime")}}
    levels = {check["level"] for case in CASES for check in case["at"] if "level" in check}
    assert levels == set(timers.LEVELS)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_core_computes_each_case(case: dict[str, Any]) -> None:
    timer = _timer(case)
    for check in case["at"]:
        expected = {name: value for name, value in check.items() if name != "now"}
        progress = timers.progress(timer, check["now"])
        computed = {name: timers.level(timer, check["now"]) if name == "level"
                    else getattr(progress, name) for name in expected}
        assert computed == expected, check["now"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_each_snapshot_is_what_the_server_sends(case: dict[str, Any]) -> None:
    sent = timer_json.public(_timer(case), case["snapshot"]["server_time"])
    shown = {name: sent[name] for name in READ_BY_THE_PAGES & sent.keys()
             if name in case["snapshot"] or sent[name] not in (None, False)}
    assert case["snapshot"] == shown
