"""What a webhook URL may be when it is set. (Addresses are checked again at connect time.)"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..timers import TimerError

MAX_URL = 2048


def check_url(url: str, allow_private: bool) -> str:
    """`url` if it is an absolute https URL (http too when private targets are allowed)."""
    allowed = ("https", "http") if allow_private else ("https",)
    if len(url) > MAX_URL:
        raise TimerError(f"webhook_url must be at most {MAX_URL} characters", "webhook_url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        # urlsplit would silently drop tabs and newlines: what is checked must be what is kept
        raise TimerError("webhook_url must not contain spaces or control characters",
                         "webhook_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise TimerError(f"webhook_url is not a valid URL: {url!r}", "webhook_url") from None
    if parts.scheme not in allowed or not parts.hostname:
        raise TimerError("webhook_url must be an absolute " + " or ".join(allowed) +
                         f" URL like https://example.com/hooks/castimer, got {url!r}",
                         "webhook_url")
    try:
        parts.hostname.encode("idna")  # type: ignore[union-attr]
    except UnicodeError:
        raise TimerError(f"webhook_url has an invalid host name: {parts.hostname!r}",
                         "webhook_url") from None
    if parts.username or parts.password:
        raise TimerError("webhook_url must not carry user:password@; put a token in the path "
                         "or verify the signature instead", "webhook_url")
    return url
