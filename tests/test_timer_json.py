"""The views of a timer (`server/timer_json.py`): built from still and moving parts, and from a
stored body's kept parts, they are byte for byte what the one-step render made before."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest
from markupsafe import escape

from server import timer_json, timers
from server.timers import Timer

T0 = 1_800_000_000_000  # a fixed "now" in epoch ms
BASE = "https://castimer.example"


# -- the render as it was before the views were split (kept here as the reference) ------------


def reference_public(t: Timer, now_ms: int) -> dict[str, Any]:
    p = timers.progress(t, now_ms)
    out: dict[str, Any] = {"id": t.id, "type": t.type, "title": t.title, "state": str(t.state),
                           "timezone": t.timezone}
    if t.type == timers.COUNTDOWN:
        out["duration"] = t.duration_ms // 1000
    elif t.type == timers.EVENT:
        out["target_date"] = t.target_date
    else:
        out.update(work=t.work_ms // 1000, rest=t.rest_ms // 1000, rounds=t.rounds)
    if t.type != timers.EVENT:
        out["adjustment"] = round(t.adjust_ms / 1000)
        out["start_at"] = t.start_at
    out.update(remaining_ms=p.remaining_ms, elapsed_ms=p.elapsed_ms, total_ms=p.total_ms,
               round=p.round, phase=p.phase, version=t.version,
               created_at=timers.iso(t.created_at_ms), updated_at=timers.iso(t.updated_at_ms),
               started_at=timers.iso(t.started_at_ms), paused_at=timers.iso(t.paused_at_ms),
               completed_at=timers.iso(t.completed_at_ms), server_time=now_ms,
               level=timers.level(t, now_ms, p), warn_at=t.warn_at, danger_at=t.danger_at,
               message=timers.message_json(t.message), blackout=t.blackout)
    if t.type in timers.OVERTIME_TYPES:
        out.update(overtime=t.overtime, overtime_ms=timers.overtime_ms(t, now_ms, p))
    return out


def reference_urls(t: Timer, base_url: str) -> dict[str, str]:
    widget = f"{base_url}/widget?timer={quote(t.id)}"
    title = escape(t.title or "Castimer timer")
    return {
        "widget": widget,
        "embed": f'<iframe src="{escape(widget)}" style="width:360px;height:360px;border:none;"'
                 f' loading="lazy" title="{title}"></iframe>',
        "stage": f"{base_url}/stage/{quote(t.id)}",
        "control": f"{base_url}/control/{quote(t.id)}#token={t.control_token}",
    }


def reference_presenter(t: Timer, now_ms: int, base_url: str, viewers: int) -> dict[str, Any]:
    out = reference_public(t, now_ms)
    out.update(viewers=viewers, urls=reference_urls(t, base_url))
    return out


def reference_owner(t: Timer, now_ms: int, base_url: str, viewers: int) -> dict[str, Any]:
    out = reference_public(t, now_ms)
    out.update(viewers=viewers, webhook_url=t.webhook_url,
               webhook_events=list(t.webhook_events) if t.webhook_events is not None else None,
               urls=reference_urls(t, base_url))
    return out


# -- timers of every type, in every state -----------------------------------------------------


def made(kind: str, **fields: Any) -> Timer:
    extra: dict[str, Any] = {"countdown": {"duration": 60},
                             "interval": {"work": 20, "rest": 10, "rounds": 3},
                             "event": {"target_date": "2027-01-15T08:01:00+00:00"}}[kind]
    change = timers.create(f"tmr_{kind}", "acct_a", {"type": kind, **extra, **fields}, T0,
                           control_token="ctl_secret")
    assert change.timer is not None
    return change.timer


def step(t: Timer, command: str, after_s: float, seconds: int = 0) -> Timer:
    change = timers.apply(t, command, T0 + int(after_s * 1000), seconds=seconds)
    assert change.timer is not None
    return change.timer


def settled(t: Timer, after_s: float) -> Timer:
    change = timers.advance(t, T0 + int(after_s * 1000))
    assert change is not None and change.timer is not None
    return change.timer


def with_message(t: Timer, flash: bool) -> Timer:
    change = timers.set_message(t, "Wrap up\nplease", flash, T0 + 1500)
    assert change.timer is not None
    return change.timer


def cases() -> dict[str, Timer]:
    countdown = made("countdown", title='Keynote <"A&B">', timezone="Europe/Paris")
    over = made("countdown", overtime=True, warn_at=30, danger_at=10)
    interval = made("interval")
    event_target = T0 + 60_000  # 2027-01-15T08:01:00Z is T0 + 60 s
    assert timers.parse_target_date("2027-01-15T08:01:00+00:00", T0) == event_target
    event = made("event")
    found = {
        "countdown idle": countdown,
        "countdown idle, untitled, no timezone": made("countdown"),
        "countdown running": step(countdown, "start", 1),
        "countdown paused": step(step(countdown, "start", 1), "pause", 7.3),
        "countdown adjusted": step(step(countdown, "start", 1), "adjust", 2, 45),
        "countdown completed": settled(step(countdown, "start", 1), 61),
        "countdown scheduled": made("countdown", start_at="2027-01-15T10:05:00+01:00",
                                    timezone="America/New_York"),
        "countdown with webhooks": made("countdown", webhook_url="https://hooks.example/x",
                                        webhook_events=["timer.started", "timer.completed"]),
        "countdown with no webhook events": made("countdown", webhook_url="https://h.example",
                                                 webhook_events=[]),
        "countdown blackout": made("countdown", blackout=True),
        "countdown message": with_message(step(countdown, "start", 1), flash=False),
        "countdown flashing message": with_message(countdown, flash=True),
        "countdown warned": settled(step(over, "start", 0), 31),
        "countdown in danger": settled(step(over, "start", 0), 52),
        "countdown overtime": settled(step(over, "start", 0), 65),
        "countdown paused in overtime": step(settled(step(over, "start", 0), 65), "pause", 70),
        "countdown stopped in overtime": step(settled(step(over, "start", 0), 65), "stop", 80),
        "interval idle": interval,
        "interval running, work": step(interval, "start", 0),
        "interval running, rest": settled(step(interval, "start", 0), 31),
        "interval paused": step(step(interval, "start", 0), "pause", 45),
        "interval completed": settled(step(interval, "start", 0), 95),
        "interval blackout with message": with_message(made("interval", blackout=True), True),
        "event running": event,
        "event in a timezone": made("event", timezone="Asia/Tokyo", title="Launch"),
        "event completed": settled(event, 61),
        "event overtime": settled(made("event", overtime=True, warn_at=20), 70),
        "event stopped in overtime": step(settled(made("event", overtime=True), 70), "stop",
                                          75),
    }
    states = {str(t.state) for t in found.values()}
    assert states == {str(s) for s in timers.State}
    return found


CASES = cases()
#: Instants to render at: before the start, while counting, past every deadline.
NOWS = [T0 - 5_000, T0 + 3_500, T0 + 31_250, T0 + 59_999, T0 + 61_000, T0 + 125_678]


def json(view: dict[str, Any]) -> bytes:
    return orjson.dumps(view)


@pytest.mark.parametrize("name", CASES)
def test_every_view_is_byte_for_byte_the_one_step_render(name: str) -> None:
    t = CASES[name]
    for now in NOWS:
        assert json(timer_json.public(t, now)) == json(reference_public(t, now))
        assert json(timer_json.owner(t, now, BASE, 3)) == json(reference_owner(t, now, BASE, 3))
        assert (json(timer_json.presenter(t, now, BASE, 2))
                == json(reference_presenter(t, now, BASE, 2)))


@pytest.mark.parametrize("name", CASES)
def test_a_stored_body_renders_as_its_timer_does_at_every_instant(name: str) -> None:
    t = CASES[name]
    shown = timer_json.stored(timers.dump(t))
    assert shown.timer == t
    for base in (BASE, "http://127.0.0.1:8000", BASE):  # kept parts follow the base URL
        for viewers, now in enumerate(NOWS):
            assert (json(shown.owner(now, base, viewers))
                    == json(reference_owner(t, now, base, viewers)))
            assert (json(shown.presenter(now, base, viewers))
                    == json(reference_presenter(t, now, base, viewers)))


def test_the_same_body_is_loaded_once_and_a_changed_body_afresh() -> None:
    t = CASES["countdown running"]
    raw = timers.dump(t)
    first = timer_json.stored(raw)
    assert timer_json.stored(bytes(raw)) is first  # an equal body read again
    paused = timers.dump(step(t, "pause", 5))
    assert timer_json.stored(paused) is not first
    assert timer_json.stored(paused).timer.state == timers.State.PAUSED


def test_renders_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timer_json, "_stored", {})
    monkeypatch.setattr(timer_json, "_STORED_MOST", 3)
    t = CASES["countdown idle"]
    bodies = [timers.dump(step(t, "adjust", 1, n)) for n in range(1, 6)]
    for raw in bodies:
        timer_json.stored(raw)
    assert list(timer_json._stored) == bodies[-3:]  # the oldest went first


def test_a_view_returned_does_not_change_the_next() -> None:
    shown = timer_json.stored(timers.dump(CASES["countdown running"]))
    first = shown.owner(T0 + 3_000, BASE, 1)
    first["remaining_ms"], first["viewers"] = -1, -1
    again = shown.owner(T0 + 3_000, BASE, 1)
    assert (again["remaining_ms"], again["viewers"]) == (58_000, 1)
