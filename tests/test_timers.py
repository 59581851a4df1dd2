"""The pure timer core, without any I/O: tables of (state, now, command) → (state, events),
and property tests of its invariants."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import timers as T
from server.timers import State, TimerError

T0 = 1_800_000_000_000  # a fixed "now" in epoch ms


def countdown(seconds: int = 10, **extra: object) -> T.Timer:
    timer = T.create("tmr_a", "acct_a", {"type": "countdown", "duration": seconds, **extra},
                     T0).timer
    assert timer is not None
    return timer


def interval(work: int = 2, rest: int = 1, rounds: int = 3) -> T.Timer:
    timer = T.create("tmr_i", "acct_a", {"type": "interval", "work": work, "rest": rest,
                                         "rounds": rounds}, T0).timer
    assert timer is not None
    return timer


def run(timer: T.Timer, *steps: tuple[str, int] | tuple[str, int, int]) -> tuple[T.Timer, list]:
    """Apply (command, at_ms_after_T0[, seconds]) steps; return the timer and event names."""
    names: list[str] = []
    for step in steps:
        change = T.apply(timer, step[0], T0 + step[1], seconds=step[2] if len(step) > 2 else 0)
        assert change.timer is not None
        timer = change.timer
        names += [e.name for e in change.events]
    return timer, names


@pytest.mark.parametrize(("steps", "state", "events", "remaining_at_5s"), [
    ([("start", 0)], State.RUNNING, ["timer.started"], 5000),
    ([("start", 0), ("pause", 2000)], State.PAUSED, ["timer.started", "timer.paused"], 8000),
    ([("start", 0), ("pause", 2000), ("resume", 4000)], State.RUNNING,
     ["timer.started", "timer.paused", "timer.resumed"], 7000),
    ([("start", 0), ("reset", 3000)], State.IDLE, ["timer.started", "timer.reset"], 10000),
    ([("start", 0), ("adjust", 1000, 30)], State.RUNNING, ["timer.started", "timer.adjusted"],
     35000),
    ([("adjust", 0, -4)], State.IDLE, ["timer.adjusted"], 6000),
    # A pause after the deadline finds the timer completed: the completion fires, then 422.
])
def test_countdown_transitions(steps, state, events, remaining_at_5s):
    timer, names = run(countdown(), *steps)
    assert timer.state == state
    assert names == events
    assert T.progress(timer, T0 + 5000).remaining_ms == remaining_at_5s
    assert timer.version == 1 + len(steps)


@pytest.mark.parametrize(("steps", "command", "message"), [
    ([], "pause", "cannot pause a timer that is idle"),
    ([], "resume", "cannot resume a timer that is idle"),
    ([("start", 0)], "start", "cannot start a timer that is running"),
    ([("start", 0), ("pause", 1)], "pause", "cannot pause a timer that is paused"),
])
def test_transitions_that_are_not_allowed(steps, command, message):
    timer, _ = run(countdown(), *steps)
    with pytest.raises(TimerError, match=message):
        T.apply(timer, command, T0 + 10)


def test_every_transition_event_carries_the_moment_it_happened():
    timer = countdown()
    stamps = []
    for command, at_ms in (("start", 0), ("pause", 2000), ("resume", 4000)):
        change = T.apply(timer, command, T0 + at_ms)
        assert change.timer is not None
        timer = change.timer
        [event] = change.events
        stamps.append({k: v for k, v in event.data.items() if k.endswith("_at")})
    assert stamps == [{"started_at": T.iso(T0)}, {"paused_at": T.iso(T0 + 2000)},
                      {"resumed_at": T.iso(T0 + 4000)}]


def test_a_command_after_the_deadline_first_fires_the_completion():
    timer, _ = run(countdown(10), ("start", 0))
    with pytest.raises(TimerError, match="cannot pause a timer that is completed; reset it"):
        T.apply(timer, "pause", T0 + 12_000)
    reset = T.apply(timer, "reset", T0 + 12_000)
    assert [e.name for e in reset.events] == ["timer.completed", "timer.reset"]
    assert reset.events[0].at_ms == T0 + 10_000
    assert reset.events[0].data["late_ms"] == 2000


def test_completion_is_stamped_with_its_deadline_and_lateness():
    timer, _ = run(countdown(10), ("start", 0), ("pause", 4000), ("resume", 6000))
    assert T.next_deadline(timer) == T0 + 12_000
    assert T.advance(timer, T0 + 11_999) is None
    change = T.advance(timer, T0 + 12_500)
    assert change is not None and change.timer is not None
    [event] = change.events
    assert (event.name, event.at_ms) == ("timer.completed", T0 + 12_000)
    assert event.data == {"state": "completed", "duration": 10, "remaining": 0,
                          "actual_duration": 10, "started_at": T.iso(T0),
                          "completed_at": T.iso(T0 + 12_000), "late_ms": 500}
    assert change.timer.state == State.COMPLETED
    assert T.next_deadline(change.timer) is None
    assert T.progress(change.timer, T0 + 99_000).remaining_ms == 0


def test_interval_fires_each_round_end_then_both_completions():
    timer, _ = run(interval(work=2, rest=1, rounds=3), ("start", 0))
    seen = []
    for now in range(0, 10_000, 250):
        change = T.advance(timer, T0 + now)
        if change:
            assert change.timer is not None
            timer = change.timer
            seen += [(e.name, e.at_ms - T0, e.data.get("round")) for e in change.events]
    assert seen == [("interval.round_end", 3000, 1), ("interval.round_end", 6000, 2),
                    ("interval.round_end", 9000, 3), ("interval.completed", 9000, 3),
                    ("timer.completed", 9000, 3)]


@pytest.mark.parametrize(("at_ms", "round_", "phase", "remaining"), [
    (0, 1, "work", 9000), (1999, 1, "work", 7001), (2000, 1, "rest", 7000),
    (3000, 2, "work", 6000), (5500, 2, "rest", 3500), (8999, 3, "rest", 1),
])
def test_interval_round_and_phase(at_ms, round_, phase, remaining):
    timer, _ = run(interval(), ("start", 0))
    p = T.progress(timer, T0 + at_ms)
    assert (p.round, p.phase, p.remaining_ms) == (round_, phase, remaining)


def test_a_long_outage_fires_every_missed_round_once_with_its_lateness():
    timer, _ = run(interval(work=2, rest=1, rounds=3), ("start", 0))
    change = T.advance(timer, T0 + 60_000)
    assert change is not None
    assert [(e.name, e.data["late_ms"]) for e in change.events] == [
        ("interval.round_end", 57_000), ("interval.round_end", 54_000),
        ("interval.round_end", 51_000), ("interval.completed", 51_000),
        ("timer.completed", 51_000)]
    assert change.timer is not None and T.advance(change.timer, T0 + 61_000) is None


def test_adding_time_to_an_interval_never_rewinds_into_a_finished_round():
    timer, _ = run(interval(work=2, rest=1, rounds=3), ("start", 0))
    timer = T.advance(timer, T0 + 3500).timer  # round 1 ended at 3 s
    assert timer is not None
    timer, names = run(timer, ("adjust", 3500, 60))
    assert names == ["timer.adjusted"]
    assert T.progress(timer, T0 + 3500).round == 2  # rewound only to the start of round 2
    assert T.next_deadline(timer) == T0 + 6500


def test_removing_time_across_a_round_end_fires_it_at_once():
    timer, _ = run(interval(work=2, rest=1, rounds=3), ("start", 0))
    timer, names = run(timer, ("adjust", 1000, -2))
    assert names == ["timer.adjusted", "interval.round_end"]
    assert timer.rounds_done == 1


def test_event_timer_runs_from_creation_to_its_target():
    change = T.create("tmr_e", "acct_a", {"type": "event",
                                          "target_date": T.iso(T0 + 90_000_000),
                                          "timezone": "Asia/Tokyo"}, T0)
    assert [e.name for e in change.events] == ["timer.started"]
    timer = change.timer
    assert timer is not None and timer.state == State.RUNNING
    assert T.progress(timer, T0 + 1000).remaining_ms == 89_999_000
    assert T.next_deadline(timer) == T0 + 90_000_000
    with pytest.raises(TimerError, match="cannot be paused"):
        T.apply(timer, "pause", T0 + 1000)
    with pytest.raises(TimerError, match="change target_date instead"):
        T.apply(timer, "adjust", T0 + 1000, seconds=10)


@pytest.mark.parametrize(("fields", "param", "message"), [
    ({"type": "countdown", "duration": -1}, "duration", "between 1 and"),
    ({"type": "countdown", "duration": 0}, "duration", "between 1 and"),
    ({"type": "countdown"}, "duration", "duration is required"),
    ({"type": "stopwatch"}, "type", "type must be one of countdown, event, interval"),
    ({"type": "event", "target_date": "2020-01-01T00:00:00Z"}, "target_date", "in the future"),
    ({"type": "event", "target_date": "2030-01-01T00:00:00"}, "target_date", "offset"),
    ({"type": "event", "target_date": "next tuesday"}, "target_date", "ISO 8601"),
    ({"type": "event", "target_date": "2030-01-01T00:00:00Z", "timezone": "Mars/Olympus"},
     "timezone", "IANA time zone"),
    ({"type": "interval", "rounds": 0}, "rounds", "between 1 and 1000"),
    ({"type": "interval", "rest": -1}, "rest", "between 0 and"),
    ({"type": "countdown", "duration": 5, "rounds": 3}, "rounds", "applies to interval"),
    ({"type": "countdown", "duration": 5, "title": "x" * 201}, "title", "at most 200"),
    ({"type": "countdown", "duration": 5, "webhook_events": ["timer.exploded"]},
     "webhook_events", "may name"),
])
def test_invalid_fields_name_the_field_and_what_is_allowed(fields, param, message):
    with pytest.raises(TimerError, match=message) as caught:
        T.create("tmr_x", "acct_a", fields, T0)
    assert caught.value.param == param


def test_declarative_state_targets():
    timer = countdown()
    assert T.command_for_state(timer, "running", T0) == "start"
    assert T.command_for_state(timer, "idle", T0) is None
    with pytest.raises(TimerError, match="cannot go from idle to paused"):
        T.command_for_state(timer, "paused", T0)
    with pytest.raises(TimerError, match="state must be one of"):
        T.command_for_state(timer, "stopped", T0)


def test_storage_round_trip_is_exact():
    timer, _ = run(countdown(10, webhook_events=["timer.completed"], title="Fête 🎉"),
                   ("start", 0), ("adjust", 10, 5))
    assert T.load(T.dump(timer)) == timer


# -- properties -------------------------------------------------------------------------------

commands = st.lists(st.tuples(st.sampled_from(T.COMMANDS),
                              st.integers(min_value=0, max_value=20_000),
                              st.integers(min_value=-120, max_value=120)), max_size=25)
kinds = st.sampled_from([{"type": "countdown", "duration": 30},
                         {"type": "interval", "work": 3, "rest": 2, "rounds": 4},
                         {"type": "interval", "work": 1, "rest": 0, "rounds": 2}])


@settings(max_examples=400, deadline=None)
@given(kind=kinds, script=commands)
def test_invariants_hold_under_any_command_sequence(kind, script):
    timer = T.create("tmr_p", "acct_p", kind, T0).timer
    assert timer is not None
    now = T0
    run_ms = 0  # running time measured independently, segment by segment
    running_since: int | None = None
    for command, gap, delta in script:
        later = now + gap
        # Whatever the scheduler would fire before `later` is fired first, as in production.
        due = T.next_deadline(timer)
        while due is not None and due <= later:
            change = T.advance(timer, due)
            assert change is not None and change.timer is not None
            assert change.timer.version == timer.version + 1
            timer = change.timer
            if running_since is not None and timer.state != State.RUNNING:
                run_ms += due - running_since
                running_since = None
            due = T.next_deadline(timer)
        now = later
        before = timer
        try:
            change = T.apply(timer, command, now, seconds=delta)
        except TimerError:
            continue
        assert change.timer is not None
        timer = change.timer
        assert timer.version == before.version + 1
        if before.state == State.COMPLETED:
            assert command == "reset" and timer.state == State.IDLE
        if running_since is not None and timer.state != State.RUNNING:
            run_ms += now - running_since
            running_since = None
        if timer.state == State.IDLE:
            run_ms, running_since = 0, None
        elif timer.state == State.RUNNING and running_since is None:
            running_since = now
        for probe in (now, now + 1, now + 5000):
            p = T.progress(timer, probe)
            assert 0 <= p.remaining_ms <= p.total_ms
            if timer.state == State.COMPLETED:
                assert p.remaining_ms == 0
        if timer.state in (State.PAUSED, State.IDLE):
            assert T.progress(timer, now).elapsed_ms == run_ms


@settings(max_examples=200, deadline=None)
@given(kind=kinds, script=commands)
def test_completed_is_final_until_reset(kind, script):
    timer = T.create("tmr_p", "acct_p", kind, T0).timer
    assert timer is not None
    timer, _ = run(timer, ("start", 0))
    change = T.advance(timer, T0 + 10**7)
    assert change is not None and change.timer is not None
    done = change.timer
    for command, gap, delta in script:
        if command == "reset":
            continue
        with pytest.raises(TimerError):
            T.apply(done, command, T0 + 10**7 + gap, seconds=delta)
    assert T.advance(done, T0 + 10**8) is None


def test_resetting_a_timer_that_never_started_is_refused():
    with pytest.raises(TimerError, match="cannot reset a timer that is idle") as refused:
        T.apply(countdown(), "reset", T0 + 1000)
    assert refused.value.param == "state"
    # Time added while idle is something to reset.
    adjusted, _ = run(countdown(), ("adjust", 0, 30))
    timer, names = run(adjusted, ("reset", 1000))
    assert names == ["timer.reset"] and timer.adjust_ms == 0


DAY_S = 86400
CAP = T.MAX_TOTAL_S


@pytest.mark.parametrize(("fields", "param"), [
    ({"type": "countdown", "duration": CAP + 1}, "duration"),
    ({"type": "interval", "work": CAP, "rest": 0, "rounds": 2}, "rounds"),
    ({"type": "interval", "work": 3 * DAY_S, "rest": DAY_S, "rounds": 1000}, "rounds"),
    ({"type": "event", "target_date": "9999-12-31T00:00:00Z"}, "target_date"),
    ({"type": "event", "target_date": T.iso(T0 + (CAP + 1) * 1000)}, "target_date"),
])
def test_no_timer_runs_longer_than_the_cap(fields, param):
    with pytest.raises(TimerError, match=rf"{CAP} seconds|{T.MAX_TOTAL_DAYS} days") as refused:
        T.create("tmr_x", "acct_x", fields, T0)
    assert refused.value.param == param


@pytest.mark.parametrize("fields", [
    {"type": "countdown", "duration": CAP},
    {"type": "interval", "work": 216_224, "rest": 100_000, "rounds": 1000},
    {"type": "event", "target_date": T.iso(T0 + CAP * 1000)},
])
def test_a_timer_of_exactly_the_cap_is_allowed(fields):
    assert T.create("tmr_x", "acct_x", fields, T0).timer is not None


def test_edits_and_adjustments_keep_to_the_cap():
    timer = interval(work=60, rest=0, rounds=1000)
    with pytest.raises(TimerError, match="would make") as refused:
        T.edit(timer, {"work": 40 * DAY_S}, T0)
    assert refused.value.param == "work"
    full = countdown(CAP - 10)
    with pytest.raises(TimerError, match="the time added would make") as refused:
        T.apply(full, "adjust", T0, seconds=11)
    assert refused.value.param == "seconds"
    assert T.apply(full, "adjust", T0, seconds=10).timer is not None


# -- the live room: overtime, warnings, messages ---------------------------------------------


def fire_all(timer: T.Timer, until_ms: int) -> tuple[T.Timer, list[T.TimerEvent]]:
    """What the scheduler commits up to `until_ms`, deadline by deadline."""
    events: list[T.TimerEvent] = []
    due = T.next_deadline(timer)
    while due is not None and due <= until_ms:
        change = T.advance(timer, due)
        assert change is not None and change.timer is not None
        timer, events = change.timer, events + list(change.events)
        due = T.next_deadline(timer)
    return timer, events


def test_overtime_completes_once_then_counts_below_zero_until_stopped():
    timer, _ = run(countdown(2, overtime=True), ("start", 0))
    timer, events = fire_all(timer, T0 + 60_000)
    assert [e.name for e in events] == ["timer.completed"]
    assert events[0].at_ms == T0 + 2000 and events[0].data["actual_duration"] == 2
    assert timer.state == State.OVERTIME and T.next_deadline(timer) is None
    later = [T.progress(timer, T0 + ms).remaining_ms for ms in (2500, 3000, 9000)]
    assert later == [-500, -1000, -7000]
    assert T.level(timer, T0 + 3000) == "overtime"
    assert T.overtime_ms(timer, T0 + 3000) == 1000
    stopped = T.apply(timer, "stop", T0 + 9400)
    assert [e.name for e in stopped.events] == ["timer.stopped"]
    assert stopped.events[0].data["overtime"] == 7
    assert stopped.timer.state == State.COMPLETED
    assert T.progress(stopped.timer, T0 + 20_000).remaining_ms == 0
    assert T.overtime_ms(stopped.timer, T0 + 20_000) == 7400
    reset = T.apply(stopped.timer, "reset", T0 + 21_000)
    assert reset.timer.state == State.IDLE and reset.timer.completed_at_ms is None


def test_a_pause_in_overtime_resumes_in_overtime():
    timer, _ = run(countdown(2, overtime=True), ("start", 0))
    timer, _ = fire_all(timer, T0 + 3000)
    timer, _ = run(timer, ("pause", 3000))
    assert timer.state == State.PAUSED and T.progress(timer, T0 + 9000).remaining_ms == -1000
    assert T.level(timer, T0 + 9000) == "overtime"
    timer, names = run(timer, ("resume", 10_000))
    assert timer.state == State.OVERTIME and names == ["timer.resumed"]
    assert T.progress(timer, T0 + 11_000).remaining_ms == -2000
    with pytest.raises(TimerError, match="cannot adjust a timer that is overtime"):
        T.apply(timer, "adjust", T0 + 11_000, seconds=30)
    paused, _ = run(timer, ("pause", 11_000))
    with pytest.raises(TimerError, match="past zero"):
        T.apply(paused, "adjust", T0 + 11_000, seconds=30)


def test_an_event_timer_with_overtime_counts_past_its_date():
    target = T0 + 10_000
    timer = T.create("tmr_e", "acct_a", {"type": "event", "target_date": T.iso(target),
                                         "overtime": True}, T0).timer
    timer, events = fire_all(timer, T0 + 15_000)
    assert [e.name for e in events] == ["timer.completed"]
    assert timer.state == State.OVERTIME
    assert T.progress(timer, T0 + 15_000).remaining_ms == -5000


def test_state_completed_stops_and_overtime_is_no_target():
    timer, _ = run(countdown(30), ("start", 0))
    assert T.command_for_state(timer, "completed", T0 + 1000) == "stop"
    with pytest.raises(TimerError, match="goes into overtime by itself"):
        T.command_for_state(timer, "overtime", T0)
    stopped = T.apply(timer, "stop", T0 + 1000)
    assert stopped.events[0].data["overtime"] == 0 and stopped.timer.completed_at_ms == T0 + 1000


def test_warnings_fire_once_each_in_order_before_the_completion():
    timer, _ = run(countdown(5, warn_at=3, danger_at=1), ("start", 0))
    timer, events = fire_all(timer, T0 + 10_000)
    assert [(e.name, e.data.get("level"), e.at_ms) for e in events] == [
        ("timer.warning", "warning", T0 + 2000), ("timer.warning", "danger", T0 + 4000),
        ("timer.completed", None, T0 + 5000)]
    assert events[0].data["remaining"] == 3 and events[1].data["remaining"] == 1
    again, _ = run(timer, ("reset", 11_000), ("start", 12_000))
    _, events = fire_all(again, T0 + 30_000)
    assert [e.data.get("level") for e in events] == ["warning", "danger", None]


def test_a_server_that_was_down_fires_each_warning_once_late_and_in_order():
    timer, _ = run(countdown(5, warn_at=3, danger_at=1), ("start", 0))
    change = T.advance(timer, T0 + 9000)
    assert [(e.name, e.data.get("late_ms")) for e in change.events] == [
        ("timer.warning", 7000), ("timer.warning", 5000), ("timer.completed", 4000)]


def test_an_adjust_above_a_threshold_re_arms_it():
    timer, _ = run(countdown(10, warn_at=5), ("start", 0))
    timer, events = fire_all(timer, T0 + 6000)
    assert [e.name for e in events] == ["timer.warning"]
    timer, names = run(timer, ("adjust", 6000, 10))  # 14 s left: above 5 again
    assert names == ["timer.adjusted"] and timer.warned == 0
    timer, events = fire_all(timer, T0 + 30_000)
    assert [(e.name, e.at_ms) for e in events] == [("timer.warning", T0 + 15_000),
                                                   ("timer.completed", T0 + 20_000)]


def test_removing_time_past_a_threshold_fires_it_in_the_same_commit():
    timer, _ = run(countdown(60, warn_at=30), ("start", 0))
    change = T.apply(timer, "adjust", T0 + 1000, seconds=-40)
    assert [e.name for e in change.events] == ["timer.adjusted", "timer.warning"]


@pytest.mark.parametrize(("fields", "param", "message"), [
    ({"type": "interval", "overtime": True}, "overtime", "countdown and event"),
    ({"type": "countdown", "duration": 10, "warn_at": 10}, "warn_at", "below the timer's length"),
    ({"type": "countdown", "duration": 10, "warn_at": 0}, "warn_at", "from 1"),
    ({"type": "countdown", "duration": 10, "warn_at": 3, "danger_at": 3}, "danger_at",
     "below warn_at"),
    ({"type": "countdown", "duration": 10, "danger_at": 11}, "danger_at", "(10 s)"),
])
def test_live_room_fields_are_checked(fields, param, message):
    with pytest.raises(TimerError, match=re.escape(message)) as caught:
        T.create("tmr_x", "acct_a", fields, T0)
    assert caught.value.param == param


def test_messages_are_timer_state_with_an_event():
    timer = countdown()
    change = T.set_message(timer, "<script>wrap up</script>", True, T0 + 5)
    assert change.timer.message == {"text": "<script>wrap up</script>", "flash": True,
                                    "at_ms": T0 + 5}
    assert [(e.name, e.data["message"]["text"]) for e in change.events] == [
        ("timer.message", "<script>wrap up</script>")]
    cleared = T.clear_message(change.timer, T0 + 10)
    assert cleared.timer.message is None and cleared.events[0].data["message"] is None
    assert T.clear_message(cleared.timer, T0 + 11) is None
    for text, says in [("", "1 to 280"), ("   ", "1 to 280"), ("x" * 281, "1 to 280"),
                       ("a\x00b", "control characters")]:
        with pytest.raises(TimerError, match=says):
            T.set_message(timer, text, False, T0)
    assert T.set_message(timer, "two\nlines", False, T0).timer.message["text"] == "two\nlines"


warned_kinds = st.sampled_from([
    {"type": "countdown", "duration": 30, "warn_at": 20, "danger_at": 5},
    {"type": "countdown", "duration": 30, "warn_at": 10, "overtime": True},
    {"type": "interval", "work": 4, "rest": 2, "rounds": 4, "danger_at": 7}])


@settings(max_examples=300, deadline=None)
@given(kind=warned_kinds, script=commands)
def test_a_warning_fires_at_most_once_per_crossing_and_never_after_completion(kind, script):
    timer = T.create("tmr_w", "acct_w", kind, T0).timer
    thresholds = {"warning": kind.get("warn_at"), "danger": kind.get("danger_at")}
    armed = {level: True for level in thresholds}
    completed = False
    now = T0
    for command, gap, delta in script:
        timer, fired = fire_all(timer, now + gap)
        now += gap
        try:
            change = T.apply(timer, command, now, seconds=delta)
            timer, fired = change.timer, fired + list(change.events)
        except TimerError:
            pass
        for event in fired:
            if event.name in ("timer.started", "timer.reset"):
                armed, completed = dict.fromkeys(armed, True), False
            elif event.name == "timer.adjusted":
                for level, at_s in thresholds.items():
                    if at_s is not None and event.data["remaining"] > at_s:
                        armed[level] = True
            elif event.name == "timer.warning":
                level = event.data["level"]
                assert armed[level] and not completed, (level, fired)
                armed[level] = False
            elif event.name == "timer.completed":
                completed = True


@settings(max_examples=200, deadline=None)
@given(script=st.lists(st.tuples(st.sampled_from(["pause", "resume", "stop"]),
                                 st.integers(min_value=0, max_value=5000)), max_size=12))
def test_overtime_remaining_never_grows(script):
    timer, _ = run(countdown(3, overtime=True), ("start", 0))
    now, last = T0, T.progress(timer, T0).remaining_ms
    for command, gap in script:
        for probe in range(now, now + gap + 1, 250):
            timer, _ = fire_all(timer, probe)
            remaining = T.progress(timer, probe).remaining_ms
            if timer.state != State.COMPLETED:
                assert remaining <= last, (probe, timer.state)
                last = remaining
        now += gap
        with contextlib.suppress(TimerError):
            timer = T.apply(timer, command, now).timer
    completions = [e for e in fire_all(timer, now + 10_000)[1] if e.name == "timer.completed"]
    assert len(completions) <= 1


@settings(max_examples=100, deadline=None)
@given(script=commands)
def test_a_stopped_timer_stays_completed_until_reset(script):
    timer, _ = run(countdown(2, overtime=True), ("start", 0))
    timer, _ = fire_all(timer, T0 + 5000)
    done = T.apply(timer, "stop", T0 + 6000).timer
    for command, gap, delta in script:
        if command == "reset":
            continue
        with pytest.raises(TimerError):
            T.apply(done, command, T0 + 6000 + gap, seconds=delta)
    assert T.advance(done, T0 + 10**8) is None


# -- scheduled starts -------------------------------------------------------------------------


def test_a_scheduled_start_fires_once_anchored_at_start_at():
    timer = countdown(600, start_at=T.iso(T0 + 60_000))
    assert T.next_deadline(timer) == T0 + 60_000
    assert T.advance(timer, T0 + 59_999) is None
    # The server notices two minutes late: the timer has run those two minutes already.
    change = T.advance(timer, T0 + 180_000)
    [started] = change.events
    assert (started.name, started.at_ms) == ("timer.started", T0 + 60_000)
    assert started.data["scheduled"] is True and started.data["late_ms"] == 120_000
    timer = change.timer
    assert timer.state == State.RUNNING and timer.start_at is None
    assert T.progress(timer, T0 + 180_000).remaining_ms == 480_000
    assert T.advance(timer, T0 + 180_000) is None  # once
    assert T.next_deadline(timer) == T0 + 660_000


def test_a_start_long_overdue_fires_the_completion_too_in_order():
    timer = countdown(10, start_at=T.iso(T0 + 1000), warn_at=5)
    names = [(e.name, e.at_ms) for e in T.advance(timer, T0 + 60_000).events]
    assert names == [("timer.started", T0 + 1000), ("timer.warning", T0 + 6000),
                     ("timer.completed", T0 + 11_000)]


def test_start_at_is_checked_and_changes_only_while_idle():
    for fields, says in [({"start_at": "tomorrow"}, "ISO 8601"),
                         ({"start_at": "2030-01-01T10:00:00"}, "UTC offset"),
                         ({"start_at": T.iso(T0 - 1)}, "in the future"),
                         ({"start_at": T.iso(T0 + (T.MAX_TOTAL_S + 1) * 1000)}, "days ahead")]:
        with pytest.raises(TimerError, match=says) as caught:
            countdown(**fields)
        assert caught.value.param == "start_at"
    with pytest.raises(TimerError, match="countdown and interval") as caught:
        T.create("tmr_e", "acct_a", {"type": "event", "target_date": T.iso(T0 + 10_000),
                                     "start_at": T.iso(T0 + 5000)}, T0)
    scheduled = countdown(start_at=T.iso(T0 + 5000))
    cleared = T.edit(scheduled, {"start_at": None}, T0 + 1).timer
    assert cleared.start_at_ms is None and T.next_deadline(cleared) is None
    running, _ = run(countdown(), ("start", 0))
    with pytest.raises(TimerError, match="only while the timer is idle"):
        T.edit(running, {"start_at": T.iso(T0 + 5000)}, T0 + 1)
    # Starting by hand drops the schedule.
    started = T.apply(scheduled, "start", T0 + 100).timer
    assert started.start_at is None and started.started_at_ms == T0 + 100
