"""Dashboard sessions: an HttpOnly, SameSite=Strict cookie, HMAC-signed with
CASTIMER_SECRET_KEY, that names an API key by its SHA-256 digest (never the key itself) and
carries the session's CSRF token. Whoever holds the cookie is re-checked against the store on
every request, so revoking the key ends its sessions at once.

A cookie travels with any request the browser makes, so a session is honoured only for
requests from this server's own pages: state-changing ones must come from this origin
(Origin, or Sec-Fetch-Site where Origin is absent) and carry the CSRF token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import Response

from . import settings

COOKIE = "castimer_session"
#: Before sign-in: the double-submit token of the sign-in form (no session to bind it to yet).
SIGN_IN_COOKIE = "castimer_sign_in"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSite(Exception):
    """A request that carries a session cookie but not from this server's pages (403)."""


@dataclass(frozen=True)
class Session:
    key_hash: str  # the signed-in key's SHA-256 digest: what every request re-checks
    csrf: str
    issued_ms: int


def _mac(payload: bytes) -> bytes:
    return hmac.new(str(settings.SECRET_KEY).encode(), b"castimer-session." + payload,
                    hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(session: Session) -> str:
    payload = orjson.dumps({"k": session.key_hash, "c": session.csrf, "t": session.issued_ms})
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def decode(value: str, now_ms: int) -> Session | None:
    """The session a cookie value holds; None if it was not signed here or has expired."""
    body, _, mac = value.partition(".")
    try:
        payload, signature = _unb64(body), _unb64(mac)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _mac(payload)):
        return None
    fields: dict[str, Any] = orjson.loads(payload)
    session = Session(fields["k"], fields["c"], fields["t"])
    if not 0 <= now_ms - session.issued_ms <= settings.SESSION_MAX_AGE * 1000:
        return None
    return session


def new(key_hash: str, now_ms: int) -> Session:
    return Session(key_hash, secrets.token_urlsafe(24), now_ms)


def _secure(conn: HTTPConnection) -> bool:
    """Over https, or behind a proxy that ends TLS for a public https URL (where the request
    itself may arrive as plain http)."""
    return conn.url.scheme == "https" or settings.PUBLIC_URL.startswith("https://")


def cookie_name(conn: HTTPConnection, name: str) -> str:
    """`name`, with the `__Host-` prefix where cookies are Secure: a browser then takes such a
    cookie only from this host itself, Secure, for the whole path, so a sibling subdomain
    cannot plant a session of its own choosing."""
    return f"__Host-{name}" if _secure(conn) else name


def read(conn: HTTPConnection, now_ms: int) -> Session | None:
    value = conn.cookies.get(cookie_name(conn, COOKIE))
    return decode(value, now_ms) if value else None


def _own_origins(conn: HTTPConnection) -> set[str]:
    origins = {f"{conn.url.scheme}://{conn.url.netloc}"}
    if settings.PUBLIC_URL:
        origins.add(settings.PUBLIC_URL)
    return origins


def check_same_origin(conn: HTTPConnection, method: str) -> None:
    """Refuse a request that another site made the browser send (`CrossSite`). Reads are
    refused only when the browser says they are cross-site; anything that changes something
    must prove it comes from this origin."""
    origin = conn.headers.get("origin")
    fetch_site = conn.headers.get("sec-fetch-site")
    if fetch_site == "cross-site" or (origin and origin not in _own_origins(conn)):
        raise CrossSite(f"requests with the dashboard's session must come from this server's "
                        f"own pages, not from {origin or 'another site'}")
    if method not in SAFE_METHODS and not origin and fetch_site != "same-origin":
        raise CrossSite("a change made with the dashboard's session needs an Origin header "
                        "of this server")


def check_csrf(expected: str, given: str | None) -> None:
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CrossSite(f"the CSRF token is missing or wrong: send the page's token in the "
                        f"{CSRF_HEADER} header (or the form's csrf field); reload the page")


def set_cookie(response: Response, conn: HTTPConnection, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(cookie_name(conn, name), value, max_age=max_age, path="/",
                        httponly=True, samesite="strict", secure=_secure(conn))


def clear_cookie(response: Response, conn: HTTPConnection, name: str) -> None:
    response.delete_cookie(cookie_name(conn, name), path="/", httponly=True,
                           samesite="strict", secure=_secure(conn))
