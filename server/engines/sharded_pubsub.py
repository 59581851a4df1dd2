"""A Redis Cluster's sharded pub/sub (`SSUBSCRIBE`) read as one subscriber connection.

redis-py's `ClusterPubSub` keeps one connection per master that holds a subscribed channel's
slot, but its `get_sharded_message` asks them in turn, each for the whole timeout: a message on
one master waits out the others' timeouts (a quarter of a second each, seen in a subscription
of 32 channels taking 1.8 s to confirm). Here each master's connection has a reader of its
own, and what any of them reads goes into one queue, at once. The interface is the subset of
redis-py's `PubSub` the Redis engine uses, with sharded replies named as plain ones
(`smessage` → `message`, `ssubscribe` → `subscribe`), so the engine reads both alike."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..wake import stop_if_cancelled


class ShardedSubscriber:
    __slots__ = ("_pubsub", "_queue", "_readers")

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub  # redis.asyncio.cluster.ClusterPubSub
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._readers: dict[str, asyncio.Task[None]] = {}

    async def subscribe(self, *channels: bytes) -> None:
        await self._pubsub.ssubscribe(*channels)
        self._watch()

    async def unsubscribe(self, *channels: bytes) -> None:
        await self._pubsub.sunsubscribe(*channels)

    async def get_message(self, timeout: float) -> dict[str, Any] | None:  # noqa: ASYNC109
        """The next message or reply of any master, None after `timeout` seconds; what made
        a master's connection fail is raised here."""
        self._watch()
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can drop a cancel
                item = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(item, BaseException):
            raise item
        kind = item["type"]
        if isinstance(kind, bytes):
            kind = kind.decode()
        item["type"] = kind[1:] if kind.startswith("s") else kind
        return item

    def _watch(self) -> None:
        """A reader for each master's connection, including any redis-py opened since (a
        subscription to a slot on a master not yet read, or a channel it moved after the
        slots changed)."""
        for name, node in list(self._pubsub.node_pubsub_mapping.items()):
            reader = self._readers.get(name)
            if reader is None or reader.done():
                self._readers[name] = asyncio.create_task(self._read(node),
                                                          name=f"castimer-sharded-{name}")

    async def _read(self, node: Any) -> None:
        try:
            while True:
                stop_if_cancelled()
                message = await node.get_message(timeout=1.0)
                if message is not None:
                    self._queue.put_nowait(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the engine's listener reconnects everything
            self._queue.put_nowait(exc)

    async def aclose(self) -> None:
        readers = list(self._readers.values())
        for reader in readers:
            reader.cancel()
        if readers:
            await asyncio.wait(readers, timeout=1.0)
        self._readers.clear()
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
