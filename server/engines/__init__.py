"""Engines: where timers live and how processes hear of each other's commits.

`create_engine(url)` picks one by URL scheme; each engine's dependencies are imported only when
it is chosen, so redis-py is needed only for redis:// URLs.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import Engine


def create_engine(url: str) -> Engine:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from .sqlite import SQLiteEngine

        return SQLiteEngine(url)
    if scheme in ("redis", "rediss", "redis-cluster", "rediss-cluster"):
        from .redis import RedisEngine

        return RedisEngine(url)
    raise ValueError(f"engine URL must start with sqlite://, redis:// (or rediss://) or "
                     f"redis-cluster:// (or rediss-cluster://), got {redacted(url)!r}")


def redacted(url: str) -> str:
    """The engine URL as a log line may show it: without a password (in the user part or, as
    redis-py also takes it, in the query)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k.lower() != "password"]
    if parts.password is None and kept == query:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment))
