"""How a timer looks from outside: to viewers (public), to its presenters (with URLs) and to
its owner (with its webhook settings too)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from markupsafe import escape

from . import timers
from .timers import Timer


def public(t: Timer, now_ms: int) -> dict[str, Any]:
    """What anyone holding the timer id may see: no webhook settings, no control token."""
    p = timers.progress(t, now_ms)
    # Every type may have a timezone (an event's is UTC unless set): pages show a scheduled
    # start, a target and the time of day in it.
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


def urls(t: Timer, base_url: str) -> dict[str, str]:
    widget = f"{base_url}/widget?timer={quote(t.id)}"
    title = escape(t.title or "Castimer timer")
    return {
        "widget": widget,
        "embed": f'<iframe src="{escape(widget)}" style="width:360px;height:360px;border:none;"'
                 f' loading="lazy" title="{title}"></iframe>',
        # The stage display, like the widget, is read-only: the id is the capability.
        "stage": f"{base_url}/stage/{quote(t.id)}",
        # The token rides in the fragment: browsers never send it, so no access log sees it.
        "control": f"{base_url}/control/{quote(t.id)}#token={t.control_token}",
    }


def presenter(t: Timer, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
    """What a holder of the timer's control token sees (a hardware controller over REST): the
    public fields, how many viewers it has and its URLs (the control URL carries the token
    they hold already); not the webhook settings, which are the account's."""
    out = public(t, now_ms)
    out.update(viewers=viewers, urls=urls(t, base_url))
    return out


def owner(t: Timer, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
    """What the timer's account sees: the public fields, its webhook settings, its URLs and
    how many viewer sockets are open on it now."""
    out = public(t, now_ms)
    out.update(viewers=viewers, webhook_url=t.webhook_url,
               webhook_events=list(t.webhook_events) if t.webhook_events is not None else None,
               urls=urls(t, base_url))
    return out
