"""Every REST operation as a `Call`: its method, path, body and how its answer reads. The sync
and the async resources both build their requests here, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import quote

from ._core import Call
from ._models import Account, ApiKey, Delivery, Event, Page, Rundown, Timer, WebhookSecret


class TimerFields(TypedDict, total=False):
    """What `timers.update` may change (the timing fields and `start_at` only while idle)."""

    title: str | None
    duration: int
    target_date: str | datetime
    timezone: str
    work: int
    rest: int
    rounds: int
    webhook_url: str | None
    webhook_events: Sequence[str] | None
    overtime: bool
    warn_at: int | None
    danger_at: int | None
    blackout: bool
    start_at: str | datetime | None


class TimerCreate(TimerFields, total=False):
    """What `timers.create` takes: `type` (countdown, event, interval) and its fields."""

    type: str


class RundownFields(TypedDict, total=False):
    """What `rundowns.create` (`timers` required) and `rundowns.update` take."""

    title: str | None
    timers: Sequence[str]
    auto_advance: bool
    webhook_url: str | None


def _id(value: str) -> str:
    return quote(value, safe="")


def _json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The body as JSON: instants as ISO 8601, sequences as lists."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        out[name] = value
    return out


def _versioned(body: dict[str, Any], expected_version: int | None) -> dict[str, Any]:
    if expected_version is not None:
        body["expected_version"] = expected_version
    return body


def _none(_: Any) -> None:
    return None


def _page_params(limit: int | None, cursor: str | None, **more: Any) -> dict[str, Any]:
    params = {"limit": limit, "cursor": cursor, **more}
    return {k: v for k, v in params.items() if v is not None}


# Timers

def create_timer(fields: TimerCreate) -> Call[Timer]:
    return Call("POST", "/timers", Timer.from_json, _json(fields))


def list_timers(limit: int | None, cursor: str | None) -> Call[Page[Timer]]:
    return Call("GET", "/timers", Page.parser(Timer.from_json),
                params=_page_params(limit, cursor), idempotent=True)


def get_timer(timer_id: str) -> Call[Timer]:
    return Call("GET", f"/timers/{_id(timer_id)}", Timer.from_json, idempotent=True)


def update_timer(timer_id: str, fields: TimerFields, expected_version: int | None
                 ) -> Call[Timer]:
    return Call("PATCH", f"/timers/{_id(timer_id)}", Timer.from_json,
                _versioned(_json(fields), expected_version), idempotent=True)


def command(timer_id: str, action: str, expected_version: int | None) -> Call[Timer]:
    """start, pause, resume, reset or stop: each a transition, so a repeat would fail (422)
    unless the version pins it."""
    return Call("PATCH", f"/timers/{_id(timer_id)}/state", Timer.from_json,
                _versioned({"action": action}, expected_version),
                idempotent=expected_version is not None)


def set_state(timer_id: str, state: str, expected_version: int | None) -> Call[Timer]:
    """Setting a state the timer is in already changes nothing: safe to repeat."""
    return Call("PATCH", f"/timers/{_id(timer_id)}/state", Timer.from_json,
                _versioned({"state": state}, expected_version), idempotent=True)


def adjust(timer_id: str, seconds: int, expected_version: int | None) -> Call[Timer]:
    return Call("POST", f"/timers/{_id(timer_id)}/adjust", Timer.from_json,
                _versioned({"seconds": seconds}, expected_version),
                idempotent=expected_version is not None)


def set_message(timer_id: str, text: str, flash: bool, expected_version: int | None
                ) -> Call[Timer]:
    return Call("PUT", f"/timers/{_id(timer_id)}/message", Timer.from_json,
                _versioned({"text": text, "flash": flash}, expected_version), idempotent=True)


def clear_message(timer_id: str) -> Call[Timer]:
    return Call("DELETE", f"/timers/{_id(timer_id)}/message", Timer.from_json,
                idempotent=True)


def rotate_control_token(timer_id: str) -> Call[Timer]:
    return Call("POST", f"/timers/{_id(timer_id)}/control-token/rotate", Timer.from_json)


def delete_timer(timer_id: str, expected_version: int | None) -> Call[None]:
    params = {"expected_version": expected_version} if expected_version is not None else None
    return Call("DELETE", f"/timers/{_id(timer_id)}", _none, params=params, idempotent=True)


def test_webhook(timer_id: str) -> Call[Delivery]:
    return Call("POST", f"/timers/{_id(timer_id)}/webhooks/test", Delivery.from_json)


# Events, deliveries

def list_events(timer_id: str | None, limit: int | None, cursor: str | None
                ) -> Call[Page[Event]]:
    return Call("GET", "/events", Page.parser(Event.from_json),
                params=_page_params(limit, cursor, timer_id=timer_id), idempotent=True)


def list_deliveries(timer_id: str, limit: int | None, cursor: str | None
                    ) -> Call[Page[Delivery]]:
    return Call("GET", f"/timers/{_id(timer_id)}/deliveries", Page.parser(Delivery.from_json),
                params=_page_params(limit, cursor), idempotent=True)


def get_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("GET", f"/deliveries/{_id(delivery_id)}", Delivery.from_json, idempotent=True)


def retry_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("POST", f"/deliveries/{_id(delivery_id)}/retry", Delivery.from_json)


# Account, keys

def get_account() -> Call[Account]:
    return Call("GET", "/account", Account.from_json, idempotent=True)


def rotate_webhook_secret() -> Call[WebhookSecret]:
    return Call("POST", "/account/webhook-secret/rotate", WebhookSecret.from_json)


def _key_list(body: Any) -> list[ApiKey]:
    data = body.get("data") if isinstance(body, Mapping) else None
    return [ApiKey.from_json(k) for k in data or ()]


def list_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/keys", _key_list, idempotent=True)


def create_key() -> Call[ApiKey]:
    return Call("POST", "/keys", ApiKey.from_json)


def revoke_key(key_id: str) -> Call[ApiKey]:
    return Call("DELETE", f"/keys/{_id(key_id)}", ApiKey.from_json, idempotent=True)


# Rundowns

def create_rundown(fields: RundownFields) -> Call[Rundown]:
    return Call("POST", "/rundowns", Rundown.from_json, _json(fields))


def list_rundowns(limit: int | None, cursor: str | None) -> Call[Page[Rundown]]:
    return Call("GET", "/rundowns", Page.parser(Rundown.from_json),
                params=_page_params(limit, cursor), idempotent=True)


def get_rundown(rundown_id: str) -> Call[Rundown]:
    return Call("GET", f"/rundowns/{_id(rundown_id)}", Rundown.from_json, idempotent=True)


def update_rundown(rundown_id: str, fields: RundownFields, expected_version: int | None
                   ) -> Call[Rundown]:
    return Call("PATCH", f"/rundowns/{_id(rundown_id)}", Rundown.from_json,
                _versioned(_json(fields), expected_version), idempotent=True)


def delete_rundown(rundown_id: str, expected_version: int | None) -> Call[None]:
    params = {"expected_version": expected_version} if expected_version is not None else None
    return Call("DELETE", f"/rundowns/{_id(rundown_id)}", _none, params=params,
                idempotent=True)


def rotate_rundown_token(rundown_id: str) -> Call[Rundown]:
    return Call("POST", f"/rundowns/{_id(rundown_id)}/control-token/rotate",
                Rundown.from_json)


def advance(rundown_id: str, to: str, expected_version: int | None,
            leaving: str | None = None) -> Call[Rundown]:
    """`to`: "next", "previous" or a timer id of the rundown; `leaving`: only if the show is
    still on that timer (the API's `from`)."""
    body: dict[str, Any] = {"to": to} if leaving is None else {"to": to, "from": leaving}
    return Call("POST", f"/rundowns/{_id(rundown_id)}/advance", Rundown.from_json,
                _versioned(body, expected_version),
                idempotent=expected_version is not None or leaving is not None)
