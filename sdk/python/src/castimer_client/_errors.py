"""The errors a call can raise: one class per kind of answer, each carrying the status and the
server's own message, type and param."""

from __future__ import annotations

from typing import Any

import httpx


class CastimerError(Exception):
    """Every error this library raises. `status` is the HTTP status (None when no answer came);
    `type`, `message` and `param` are the server's `{"error": {…}}`."""

    def __init__(self, message: str, *, status: int | None = None, type: str | None = None,
                 param: str | None = None, body: dict[str, Any] | None = None,
                 headers: httpx.Headers | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.type, self.param = message, status, type, param
        self.body = body or {}
        self.headers = headers or httpx.Headers()

    def __str__(self) -> str:
        prefix = f"{self.status} {self.type}: " if self.status else ""
        return prefix + self.message


class AuthenticationError(CastimerError):
    """401: the API key is missing, malformed, invalid or revoked."""


class NotFoundError(CastimerError):
    """404: no such timer, rundown, delivery or key in this account."""


class ConflictError(CastimerError):
    """409: `expected_version` did not match (`current_version` says what it is), or a
    delivery is still pending."""

    @property
    def current_version(self) -> int | None:
        value = self.body.get("current_version")
        return value if isinstance(value, int) else None


class ValidationError(CastimerError):
    """400 or 422 (also 413, 415): a field of the request is not allowed; `param` names it."""


class RateLimitError(CastimerError):
    """429: the account's plan allows no more requests now; `retry_after` is in seconds."""

    @property
    def retry_after(self) -> float | None:
        return retry_after(self.headers)


class ServiceUnavailableError(CastimerError):
    """503: the server's timer store is unreachable; retry shortly."""


class APIConnectionError(CastimerError):
    """No answer: the server could not be reached, or the connection broke or timed out."""


class WebhookVerificationError(CastimerError):
    """A webhook whose signature or timestamp does not check out: do not trust its body."""


_BY_STATUS: dict[int, type[CastimerError]] = {
    400: ValidationError, 401: AuthenticationError, 404: NotFoundError, 409: ConflictError,
    413: ValidationError, 415: ValidationError, 422: ValidationError, 429: RateLimitError,
    503: ServiceUnavailableError}


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked to wait (`Retry-After` in seconds), or None."""
    try:
        value = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return max(value, 0.0)


def error_from(response: httpx.Response) -> CastimerError:
    """The exception for an answer that is not a success."""
    try:
        decoded = response.json()
    except ValueError:
        decoded = None
    body: dict[str, Any] = {}
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        body = decoded["error"]
    message = body.get("message")
    if not isinstance(message, str):
        message = response.text[:200] or response.reason_phrase
    kind = _BY_STATUS.get(response.status_code, CastimerError)
    param, type_ = body.get("param"), body.get("type")
    return kind(message, status=response.status_code,
                type=type_ if isinstance(type_, str) else None,
                param=param if isinstance(param, str) else None, body=body,
                headers=response.headers)
