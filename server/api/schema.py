"""Request parsing: a body is a JSON object whose fields have the documented types. A wrong
type, a missing or unknown field is a 400 that names the field; values are checked later
(422) by the code that knows what they mean."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import orjson
from starlette.requests import Request

from .. import settings, timers
from .errors import ApiError, bad_request, invalid

#: A field's JSON type: "string", "integer", "boolean", "strings" (array of strings);
#: a trailing "?" allows null.
Spec = dict[str, str]

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "boolean": "true or false",
               "strings": "an array of strings"}


#: Ranges of the integer fields the timer core does not know (its own are timers.RANGES).
RANGES = {"expected_version": (1, 2**63 - 1)}
_INT64 = (-(2**63), 2**63 - 1)


class _Number(str):
    """A JSON number that is not an integer, kept as it was written (1800.0, 1e3)."""


class _Huge(str):
    """A JSON integer too long for Python to convert (it refuses over 4,300 digits): out of
    any range anyway."""


def _integer(text: str) -> int | _Huge:
    return int(text) if len(text) <= 4000 else _Huge(text)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _as_written(raw: bytes | bytearray) -> Any:
    """The body read again keeping each number as it was written; None if that cannot be
    done (nesting deeper than the standard library reads, which orjson took)."""
    try:
        return json.loads(raw, parse_float=_Number, parse_int=_integer,
                          parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None


def _is(kind: str, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", _Number: "number",
            _Huge: "integer", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def check(body: dict[str, Any], spec: Spec, required: tuple[str, ...] = ()) -> dict[str, Any]:
    for name in body:
        if name not in spec:
            raise bad_request(f"unknown field {name!r}; allowed fields: {', '.join(spec)}",
                              name)
    for name in required:
        if name not in body:
            raise bad_request(f"{name} is required", name)
    for name, value in body.items():
        kind = spec[name].rstrip("?")
        if value is None and spec[name].endswith("?"):
            continue
        if kind == "integer" and isinstance(value, float | _Number):
            raise bad_request(f"{name} must be an integer, got {value}", name)
        if kind == "integer" and isinstance(value, _Huge):
            low, high = _range_of(name)
            raise invalid(f"{name} must be between {low} and {high}, got an integer of "
                          f"{len(value.lstrip('-'))} digits", name)
        if kind == "integer" and _is(kind, value):
            _check_range(name, value)
        if not _is(kind, value):
            nullable = " or null" if spec[name].endswith("?") else ""
            raise bad_request(f"{name} must be {_TYPE_NAMES[kind]}{nullable}, got "
                              f"{_json_type(value)}", name)
    return body


def _range_of(name: str) -> tuple[int, int]:
    return timers.RANGES.get(name) or RANGES.get(name, _INT64)


def _check_range(name: str, value: int) -> None:
    """A 422 naming the field's range, for every integer field, so that no number the store
    or the core cannot hold gets further (JSON allows integers of any size)."""
    if name in timers.RANGES:
        try:
            timers.check_range(name, value)
        except timers.TimerError as exc:
            raise invalid(exc.message, name) from None
        return
    low, high = _range_of(name)
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}, got {value}", name)


def check_media_type(request: Request) -> None:
    """A request that carries a body must label it JSON (parameters such as a charset may
    follow); one without (no Content-Length or 0, not chunked) needs no Content-Type."""
    length = request.headers.get("content-length", "")
    if "transfer-encoding" not in request.headers and not length.lstrip("0"):
        return
    sent = request.headers.get("content-type", "")
    if sent.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "the request body must be JSON, sent with "
                       f"Content-Type: application/json; got {sent[:100] or 'no Content-Type'}",
                       "Content-Type")


async def body(request: Request, spec: Spec, required: tuple[str, ...] = (),
               example: str | None = None) -> dict[str, Any]:
    """The request's JSON object, checked against `spec`. An empty body is 400 unless the
    endpoint takes no fields (`spec` empty), where it is the usual way to call it; the 400
    shows `example`, or the first required field, as a body that would do."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > settings.MAX_BODY:
            raise ApiError(413, "payload_too_large",
                           f"request body must be at most {settings.MAX_BODY} bytes")
    if not raw.strip():
        if spec:
            example = example or f'{{"{(required or tuple(spec))[0]}": …}}'
            raise bad_request(f"the request body is empty: send a JSON object, like {example}")
        parsed: Any = {}
    else:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            # orjson reads integers of over ~300 digits as infinite floats and refuses them;
            # the standard library reads them, so the field can be named.
            parsed = _as_written(raw) if "infinity" in str(exc) else None
            if parsed is None:
                raise bad_request(f"malformed JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise bad_request(f"the body must be a JSON object, got {_json_type(parsed)}")
    if any(isinstance(parsed.get(n), float) for n, kind in spec.items() if kind == "integer"):
        # orjson reads 1800.0 and integers beyond 64 bits alike as floats: read the body again,
        # keeping each number as it was written, so the error says which it was.
        parsed = _as_written(raw) or parsed
    return check(parsed, spec, required)


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,30}", raw):
        raise bad_request(f"{name} must be an integer, got {raw!r}", name)
    value = int(raw)
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}, got {value}", name)
    return value


def encode_cursor(cursor: str | None) -> str | None:
    return base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=") if cursor else None


def decode_cursor(request: Request) -> str | None:
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        cursor = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_",
                                  validate=True).decode()
        if not cursor:
            raise ValueError(raw)
        return cursor
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("cursor is not one this API returned: pass next_cursor as it came",
                          "cursor") from None
