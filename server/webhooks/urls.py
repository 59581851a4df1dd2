"""What a webhook URL may be when it is set. Literal addresses are judged here; host names
must be judged again at connect time, on the address actually connected to (DNS rebinding),
which is the dispatcher's part."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from ..timers import TimerError

MAX_URL = 2048


_IPV4_ANY_FORM = re.compile(r"[0-9a-fA-FxX.]+")


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, in any form a resolver accepts: dotted, IPv6,
    and the old BSD forms (2130706433, 0177.0.0.1, 0x7f.1) that browsers and libc still read."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _IPV4_ANY_FORM.fullmatch(host) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally routable unicast: not loopback, private, link-local (169.254.169.254),
    CGNAT, multicast, reserved or unspecified, nor an IPv6 form that embeds one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


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
    host = parts.hostname or ""
    if not allow_private:
        address = literal_address(host)
        if address is not None and not is_public(address):
            raise TimerError(f"webhook_url points at a private or reserved address ({address}); "
                             "only public hosts receive webhooks", "webhook_url")
        if host == "localhost" or host.endswith(".localhost"):
            raise TimerError("webhook_url points at localhost; only public hosts receive "
                             "webhooks", "webhook_url")
    if parts.username or parts.password:
        raise TimerError("webhook_url must not carry user:password@; put a token in the path "
                         "or verify the signature instead", "webhook_url")
    return url
