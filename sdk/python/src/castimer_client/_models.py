"""What the API answers, as typed dataclasses. Fields a newer server adds land in `extra`
instead of failing; fields an older server leaves out keep their defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

T = TypeVar("T")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 instant as the API writes it (`2026-05-10T14:30:00.000Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(kw_only=True)
class Model:
    #: Fields this version of the library does not know, as the server sent them.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    #: How to build a field from its JSON value (nested models, instants).
    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_json(cls, data: Any) -> Self:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, value in (data.items() if isinstance(data, Mapping) else ()):
            if name not in known:
                extra[name] = value
                continue
            convert = cls._convert.get(name)
            values[name] = convert(value) if convert is not None and value is not None else value
        return cls(**values, extra=extra)


def _token_in(control_url: str) -> str | None:
    """The control token a presenter page's URL carries after `#token=`."""
    return control_url.partition("#token=")[2] or None


def _times(*names: str) -> dict[str, Callable[[Any], Any]]:
    return dict.fromkeys(names, parse_time)


@dataclass(kw_only=True)
class TimerUrls(Model):
    widget: str = ""
    embed: str = ""
    stage: str = ""
    #: The presenter page, with the control token after `#`: share it only with presenters.
    control: str = ""


@dataclass(kw_only=True)
class TimerMessage(Model):
    text: str = ""
    flash: bool = False
    at: datetime | None = None

    _convert = _times("at")


@dataclass(kw_only=True)
class Timer(Model):
    """A timer with its live fields as computed at `server_time` (epoch ms)."""

    id: str = ""
    type: str = "countdown"  # countdown | event | interval
    title: str | None = None
    state: str = "idle"  # idle | running | paused | completed | overtime
    version: int = 0
    remaining_ms: int = 0
    elapsed_ms: int = 0
    total_ms: int = 0
    round: int | None = None
    phase: str | None = None  # work | rest (interval timers)
    level: str = "normal"  # normal | warning | danger | overtime
    server_time: int = 0
    duration: int | None = None
    target_date: datetime | None = None
    timezone: str | None = None
    work: int | None = None
    rest: int | None = None
    rounds: int | None = None
    adjustment: int | None = None
    start_at: datetime | None = None
    overtime: bool | None = None
    overtime_ms: int | None = None
    warn_at: int | None = None
    danger_at: int | None = None
    message: TimerMessage | None = None
    blackout: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    paused_at: datetime | None = None
    completed_at: datetime | None = None
    #: Open viewer sockets across every server process (the owner's view only).
    viewers: int | None = None
    webhook_url: str | None = None
    webhook_events: list[str] | None = None
    #: The owner's view only; the live stream's timers have none.
    urls: TimerUrls | None = None

    _convert = {**_times("target_date", "start_at", "created_at", "updated_at", "started_at",
                         "paused_at", "completed_at"),
                "message": TimerMessage.from_json, "urls": TimerUrls.from_json}

    @property
    def control_token(self) -> str | None:
        """The `ctl_…` token in `urls.control`: as a client's `api_key` it runs this timer's
        commands (get, state, adjust, message) and nothing else, as a presenter's device."""
        return _token_in(self.urls.control if self.urls else "")


@dataclass(kw_only=True)
class Event(Model):
    """An entry of the event log; `data` holds what the event needs (see the server's docs)."""

    id: str = ""
    event: str = ""
    timestamp: datetime | None = None
    timer_id: str | None = None
    title: str | None = None
    type: str | None = None
    version: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    _convert = _times("timestamp")


@dataclass(kw_only=True)
class WebhookEvent(Event):
    """A verified webhook delivery's body."""

    signature: str | None = None
    #: The delivery id (`webhook-id`): the same on every attempt; de-duplicate on it.
    delivery_id: str | None = None


@dataclass(kw_only=True)
class Attempt(Model):
    number: int = 0
    at: datetime | None = None
    duration_ms: int | None = None
    status_code: int | None = None  # None: no HTTP answer
    response: str | None = None  # the first 2 KiB of the answer
    error: str | None = None

    _convert = _times("at")


@dataclass(kw_only=True)
class Delivery(Model):
    id: str = ""
    timer_id: str | None = None
    event_id: str | None = None
    event: str | None = None
    url: str | None = None
    status: str = "pending"  # pending | succeeded | failed | cancelled
    attempt_count: int = 0
    created_at: datetime | None = None
    next_attempt_at: datetime | None = None
    #: The body as sent, without its signature (`deliveries.get` only).
    payload: dict[str, Any] | None = None
    #: Oldest first (`deliveries.get` only).
    attempts: list[Attempt] = field(default_factory=list)

    _convert = {**_times("created_at", "next_attempt_at"),
                "attempts": lambda items: [Attempt.from_json(a) for a in items]}


@dataclass(kw_only=True)
class AccountLimits(Model):
    requests_per_minute: int = 0
    requests_per_day: int | None = None  # None: no daily cap


@dataclass(kw_only=True)
class AccountUsage(Model):
    requests_today: int = 0


@dataclass(kw_only=True)
class WebhookSecret(Model):
    webhook_secret: str = field(default="", repr=False)
    #: After a rotation, when the old secret stops signing beside the new one.
    previous_webhook_secret_expires_at: datetime | None = None

    _convert = _times("previous_webhook_secret_expires_at")


@dataclass(kw_only=True)
class Account(WebhookSecret):
    id: str = ""
    name: str = ""
    plan: str = ""
    created_at: datetime | None = None
    limits: AccountLimits = field(default_factory=AccountLimits)
    usage: AccountUsage = field(default_factory=AccountUsage)

    _convert = {**_times("created_at", "previous_webhook_secret_expires_at"),
                "limits": AccountLimits.from_json, "usage": AccountUsage.from_json}


@dataclass(kw_only=True)
class ApiKey(Model):
    id: str = ""
    prefix: str = ""
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    #: The key that made the request.
    current: bool = False
    #: The whole key: only in the answer to `keys.create`, never again.
    key: str | None = field(default=None, repr=False)

    _convert = _times("created_at", "last_used_at", "revoked_at")


@dataclass(kw_only=True)
class RundownUrls(Model):
    widget: str = ""
    stage: str = ""
    control: str = ""


@dataclass(kw_only=True)
class RundownItem(Model):
    """One timer of a rundown as its presenter sees it: planned against actual seconds."""

    id: str = ""
    title: str | None = None
    type: str | None = None
    state: str | None = None
    planned: int | None = None
    actual: int | None = None  # once it completed
    over_under: int | None = None  # actual - planned
    started_at: datetime | None = None
    completed_at: datetime | None = None
    remaining_ms: int | None = None
    #: The timer was deleted after it joined the rundown.
    missing: bool = False

    _convert = _times("started_at", "completed_at")


@dataclass(kw_only=True)
class Rundown(Model):
    """A show's timers in order; `current` is the one running the show now."""

    id: str = ""
    title: str | None = None
    timers: list[str] = field(default_factory=list)
    current: str | None = None
    next: str | None = None
    auto_advance: bool = False
    version: int = 0
    completed_at: datetime | None = None
    webhook_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    urls: RundownUrls | None = None
    #: Each timer with its planned and actual time (not in `rundowns.list`).
    items: list[RundownItem] = field(default_factory=list)

    _convert = {**_times("completed_at", "created_at", "updated_at"),
                "urls": RundownUrls.from_json,
                "items": lambda items: [RundownItem.from_json(i) for i in items]}

    @property
    def control_token(self) -> str | None:
        """The `ctl_…` token in `urls.control`: as a client's `api_key` it may `get` and
        `advance` this rundown and nothing else."""
        return _token_in(self.urls.control if self.urls else "")


@dataclass(kw_only=True)
class Page(Generic[T]):
    """One page of a list; `list()` methods walk every page for you."""

    data: list[T]
    has_more: bool = False
    next_cursor: str | None = None

    @classmethod
    def parser(cls, item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
        def parse(body: Any) -> Page[T]:
            body = body if isinstance(body, Mapping) else {}
            cursor = body.get("next_cursor")
            return cls(data=[item(x) for x in body.get("data") or ()],
                       has_more=bool(body.get("has_more")),
                       next_cursor=cursor if isinstance(cursor, str) else None)
        return parse
