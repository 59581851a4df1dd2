"""The hub's bookkeeping, in process over a real engine."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from server import commit
from server.hub import Hub, Viewer

pytestmark = pytest.mark.anyio


class SlowLoad:
    """A real engine whose `get_timer` answers only when released: the load of a room's first
    viewer then races the timer's messages, as it can on a busy Redis."""

    def __init__(self, inner) -> None:
        self.inner, self.release = inner, asyncio.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def get_timer(self, timer_id):
        found = await self.inner.get_timer(timer_id)  # read now, answer later: a stale reply
        await self.release.wait()
        return found


async def test_a_deletion_during_the_first_load_is_not_undone_by_the_stale_load(engine):
    timer = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 60})
    slow = SlowLoad(engine)
    hub = Hub(slow)
    sent: list[dict] = []

    async def send(message):
        if message["type"] == "websocket.send":
            sent.append(orjson.loads(message["text"]))

    joining = asyncio.create_task(hub.join(timer.id, Viewer(send)))
    await asyncio.sleep(0.05)  # subscribed; the load has read version 1 and waits
    await commit.delete(engine, "acct_1", timer.id)
    await asyncio.sleep(0.05)  # the deletion's message reached the room
    slow.release.set()
    room = await joining
    assert room is None  # the timer is gone: the viewer is refused, not shown a ghost
    assert timer.id not in hub.rooms
