"""What a webhook URL may be when it is set. Literal addresses are judged here; host names
must be judged again at connect time, on the address actually connected to (DNS rebinding),
which is the dispatcher's part."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import idna

from ..timers import TimerError

MAX_URL = 2048

log = logging.getLogger("castimer.webhooks")


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


#: IPv6 prefixes whose last 32 bits are an IPv4 address that a translator or the host itself
#: may connect to: NAT64 (RFC 6052, RFC 8215), IPv4-compatible (deprecated) and IPv4-translated.
_EMBEDDING_LOW_32 = tuple(ipaddress.IPv6Network(n) for n in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in network for network in _EMBEDDING_LOW_32):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


#: Ranges that are not globally reachable although some Python versions' `is_global` says they
#: are: the IANA special-purpose registries' entries marked so, and the deprecated site-local
#: fec0::/10 (RFC 3879). The IETF protocol blocks are refused whole: the few anycast services
#: assigned in them as reachable (PCP, TURN, AMT, AS112, ORCHIDv2, DRIP) receive no webhooks.
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8 dummy address, 192.0.0.9 PCP, …)
    "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
    "fec0::/10",  # site-local, deprecated
    "100::/64",  # discard-only
    "100:0:0:1::/64",  # dummy prefix (RFC 9780)
    "64:ff9b:1::/48",  # local-use IPv4/IPv6 translation
    "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID, …
    "2001:db8::/32", "3fff::/20",  # documentation
    "5f00::/16",  # segment routing (SRv6) SIDs
    "fc00::/7", "fe80::/10",  # unique local, link-local
))


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally routable unicast: not loopback, private, link-local (169.254.169.254),
    CGNAT, multicast, reserved, documentation or unspecified, nor an IPv6 form that embeds one
    of those (IPv4-mapped, 6to4, Teredo, NAT64, IPv4-compatible, IPv4-translated)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return (address.is_global and not address.is_multicast
            and not any(address in network for network in _NOT_GLOBAL))


# What a developer tries first is a local receiver: the refusal names the switch that allows it.
_PRIVATE_HINT = "; CASTIMER_ALLOW_PRIVATE_WEBHOOKS=1 on the server allows {what}, for development"


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
        hint = _PRIVATE_HINT.format(what="http:// URLs") if parts.scheme == "http" else ""
        raise TimerError("webhook_url must be an absolute " + " or ".join(allowed) +
                         f" URL like https://example.com/hooks/castimer, got {url!r}{hint}",
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
                             "only public hosts receive webhooks" +
                             _PRIVATE_HINT.format(what="private addresses"), "webhook_url")
        if host == "localhost" or host.endswith(".localhost"):
            raise TimerError("webhook_url points at localhost; only public hosts receive "
                             "webhooks" + _PRIVATE_HINT.format(what="localhost"), "webhook_url")
    if parts.username or parts.password:
        raise TimerError("webhook_url must not carry user:password@; put a token in the path "
                         "or verify the signature instead", "webhook_url")
    try:
        # The client's own parser and IDNA 2008 both ways: what they cannot read, the
        # dispatcher cannot send.
        httpx.URL(url)
        if literal_address(host) is None:
            idna.encode(idna.decode(host))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise TimerError(f"webhook_url has an invalid host name: {parts.hostname!r}",
                         "webhook_url") from None
    return url


# -- at connect time ---------------------------------------------------------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[Address]]]


class UnsafeTarget(Exception):
    """The webhook's host resolves to an address that is not public."""


async def resolve(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses the connection if any resolved address is not public,
    and connects to an address it checked, never to a name resolved again later, so DNS
    rebinding cannot slip a private address between the check and the connection. TLS still
    verifies and sends SNI for the original host name (httpcore takes those from the URL)."""

    def __init__(self, allow_private: bool, resolver: Resolver = resolve) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int,
                          timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's name
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        addresses = [literal] if (literal := literal_address(host)) else \
            await self.resolver(host, port)
        if not self.allow_private:
            unsafe = [str(a) for a in addresses if not is_public(a)]
            if unsafe:
                # The addresses go to the server's log only: the attempt's error is shown to
                # the timer's owner, who must not learn how internal names resolve.
                log.warning("webhook to %s refused: it resolves to %s", host, ", ".join(unsafe))
                raise UnsafeTarget(f"{host} resolves to a private or reserved address; "
                                   "webhooks go to public hosts only")
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(self, path: str,
                                  timeout: float | None = None,  # noqa: ASYNC109 -- as above
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTarget("webhooks never go to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(allow_private: bool, limits: httpx.Limits | None = None,
                      resolver: Resolver = resolve,
                      ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes `GuardedBackend`; environment proxies
    are ignored (a proxy would connect on our behalf, unchecked). Transports may share one
    `ssl_context` (making one loads the CA bundle: ~10 ms)."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    # httpx has no parameter for httpcore's network backend; its pool is rebuilt with the
    # same settings and ours (the one place this module reaches inside httpx).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(allow_private, resolver))
    return transport
