"""Engines: where timers live and how processes hear of each other's commits.

`create_engine(url)` picks one by URL scheme; each engine's dependencies are imported only when
it is chosen, so redis-py is needed only for redis:// URLs.
"""

from __future__ import annotations

from .base import Engine


def create_engine(url: str) -> Engine:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from .sqlite import SQLiteEngine

        return SQLiteEngine(url)
    if scheme in ("redis", "rediss"):
        from .redis import RedisEngine

        return RedisEngine(url)
    raise ValueError(f"engine URL must start with sqlite:// or redis:// (or rediss://), "
                     f"got {url!r}")
