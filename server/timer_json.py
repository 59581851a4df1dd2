"""How a timer looks from outside: to viewers (public), to its presenters (with URLs) and to
its owner (with its webhook settings too).

Each view is built in two steps: the fields that stay as they are while the stored timer does
(`_still`) and, at the instant asked for, the ones that move with the clock (`_moving`), in
place, so the keys keep one order. `stored` keeps the first step per stored body: a GET of a
timer that has not changed since the last one builds neither the `Timer` nor those fields."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from markupsafe import escape

from . import timers
from .timers import Timer

#: Placeholder of a field that `_moving` fills in.
_LATER = None


def _still(t: Timer) -> dict[str, Any]:
    """The public fields, those that move with the clock left for `_moving`."""
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
    out.update(remaining_ms=_LATER, elapsed_ms=_LATER, total_ms=_LATER, round=_LATER,
               phase=_LATER, version=t.version,
               created_at=timers.iso(t.created_at_ms), updated_at=timers.iso(t.updated_at_ms),
               started_at=timers.iso(t.started_at_ms), paused_at=timers.iso(t.paused_at_ms),
               completed_at=timers.iso(t.completed_at_ms), server_time=_LATER,
               level=_LATER, warn_at=t.warn_at, danger_at=t.danger_at,
               message=timers.message_json(t.message), blackout=t.blackout)
    if t.type in timers.OVERTIME_TYPES:
        out.update(overtime=t.overtime, overtime_ms=_LATER)
    return out


def _moving(out: dict[str, Any], t: Timer, now_ms: int) -> dict[str, Any]:
    """`out` (from `_still`) with the fields that move with the clock, at `now_ms`."""
    p = timers.progress(t, now_ms)
    out["remaining_ms"], out["elapsed_ms"], out["total_ms"] = (p.remaining_ms, p.elapsed_ms,
                                                               p.total_ms)
    out["round"], out["phase"], out["server_time"] = p.round, p.phase, now_ms
    out["level"] = timers.level(t, now_ms, p)
    if t.type in timers.OVERTIME_TYPES:
        out["overtime_ms"] = timers.overtime_ms(t, now_ms, p)
    return out


def public(t: Timer, now_ms: int) -> dict[str, Any]:
    """What anyone holding the timer id may see: no webhook settings, no control token."""
    return _moving(_still(t), t, now_ms)


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


def _presenter_still(t: Timer, base_url: str) -> dict[str, Any]:
    out = _still(t)
    out.update(viewers=_LATER, urls=urls(t, base_url))
    return out


def _owner_still(t: Timer, base_url: str) -> dict[str, Any]:
    out = _still(t)
    out.update(viewers=_LATER, webhook_url=t.webhook_url,
               webhook_events=list(t.webhook_events) if t.webhook_events is not None else None,
               urls=urls(t, base_url))
    return out


def presenter(t: Timer, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
    """What a holder of the timer's control token sees (a hardware controller over REST): the
    public fields, how many viewers it has and its URLs (the control URL carries the token
    they hold already); not the webhook settings, which are the account's."""
    out = _moving(_presenter_still(t, base_url), t, now_ms)
    out["viewers"] = viewers
    return out


def owner(t: Timer, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
    """What the timer's account sees: the public fields, its webhook settings, its URLs and
    how many viewer sockets are open on it now."""
    out = _moving(_owner_still(t, base_url), t, now_ms)
    out["viewers"] = viewers
    return out


# -- renders of stored bodies -----------------------------------------------------------------


class Stored:
    """A stored timer and the still part of its presenter's and owner's views (for the last
    base URL asked for), worked out when first asked for. A view it returns shares its nested
    values (message, URLs, webhook events) with later ones: it is for serialising."""

    __slots__ = ("_base_url", "_owner", "_presenter", "timer")

    def __init__(self, timer: Timer) -> None:
        self.timer = timer
        self._base_url: str | None = None
        self._owner: dict[str, Any] | None = None
        self._presenter: dict[str, Any] | None = None

    def owner(self, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
        """`owner(self.timer, now_ms, base_url, viewers)`, from the still part kept."""
        if self._owner is None or base_url != self._base_url:
            self._at_base(base_url)
            self._owner = _owner_still(self.timer, base_url)
        return self._now(self._owner, now_ms, viewers)

    def presenter(self, now_ms: int, base_url: str, viewers: int = 0) -> dict[str, Any]:
        """`presenter(self.timer, now_ms, base_url, viewers)`, from the still part kept."""
        if self._presenter is None or base_url != self._base_url:
            self._at_base(base_url)
            self._presenter = _presenter_still(self.timer, base_url)
        return self._now(self._presenter, now_ms, viewers)

    def _at_base(self, base_url: str) -> None:
        """Forget what was kept for another base URL (another Host, when PUBLIC_URL is unset):
        one entry a body, however many hosts clients name."""
        if base_url != self._base_url:
            self._base_url, self._owner, self._presenter = base_url, None, None

    def _now(self, still: dict[str, Any], now_ms: int, viewers: int) -> dict[str, Any]:
        out = _moving(still.copy(), self.timer, now_ms)
        out["viewers"] = viewers
        return out


#: Stored bodies seen lately → their `Stored`: the body itself is the key, so an entry is
#: never stale (every change writes a new body); the oldest goes first past `_STORED_MOST`.
_stored: dict[bytes | str, Stored] = {}
_STORED_MOST = 1024


def stored(raw: bytes | str) -> Stored:
    """The timer stored as `raw` (`timers.load`), with its views' still parts when kept."""
    found = _stored.get(raw)
    if found is None:
        found = Stored(timers.load(raw))
        if len(_stored) >= _STORED_MOST:
            del _stored[next(iter(_stored))]
        _stored[raw] = found
    return found
