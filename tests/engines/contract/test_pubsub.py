"""What every engine promises as `PubSub` (server/engines/base.py): what a commit publishes,
in order, to the receivers subscribed until they unsubscribe. Run against each engine."""

from __future__ import annotations

import asyncio

import pytest

from server.engines.base import DEADLINES_CHANNEL, OUTBOX_CHANNEL, PubSub, timer_channel
from tests.engines.contract.records import T0, a_commit
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def test_engine_satisfies_pubsub(engine):
    assert isinstance(engine, PubSub)


async def test_publish_follows_the_commit_on_the_timer_deadline_and_outbox_channels(engine):
    heard: dict[str, list[bytes]] = {"timer": [], "deadlines": [], "outbox": []}
    receivers = {timer_channel("tmr_1"): heard["timer"].append,
                 DEADLINES_CHANNEL: heard["deadlines"].append,
                 OUTBOX_CHANNEL: heard["outbox"].append}
    for channel, receiver in receivers.items():
        await engine.subscribe(channel, receiver)
    await engine.commit(a_commit("tmr_1", 0, deadline=T0 + 5, deliveries=2))
    await engine.commit(a_commit("tmr_1", 1))
    await until(lambda: len(heard["timer"]) == 2 and heard["deadlines"] and heard["outbox"])
    assert heard["timer"] == [b'{"v":1}', b'{"v":2}']
    assert heard["deadlines"] == [str(T0 + 5).encode()]
    assert heard["outbox"] == [b"2"]
    await engine.unsubscribe(timer_channel("tmr_1"), receivers[timer_channel("tmr_1")])
    await engine.commit(a_commit("tmr_1", 2))
    await asyncio.sleep(0.1)
    assert len(heard["timer"]) == 2
