"""What crosses pub/sub: a timer's state channel carries what viewers may see and what hubs
need, never its control token or its webhook settings (shared/DESIGN.md §14), on every
engine: a Redis MONITOR or a compromised subscriber learns no secret from it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from server import commit, timers
from server.engines.base import timer_channel

pytestmark = pytest.mark.anyio
HOOK = "https://hooks.example.com/castimer/sekrit-path?sig=sekrit-query"


async def test_the_state_channel_carries_no_secret(engine):
    timer = await commit.create(engine, "acct_wire", {
        "type": "countdown", "duration": 60, "webhook_url": HOOK,
        "webhook_events": ["timer.started"]})
    heard: list[bytes] = []
    arrived = asyncio.Event()

    def receive(message: bytes) -> None:
        heard.append(message)
        if len(heard) == 3:
            arrived.set()

    await engine.subscribe(timer_channel(timer.id), receive)
    started = await commit.command(engine, "acct_wire", timer.id, "start")
    rotated = await commit.rotate_control_token(engine, "acct_wire", timer.id)
    await commit.edit(engine, "acct_wire", timer.id, {"title": "Keynote"})
    await asyncio.wait_for(arrived.wait(), 5)
    tokens = {timer.control_token, rotated.control_token}
    assert len(tokens) == 2 and started.webhook_url == HOOK
    for raw in heard:
        for secret in (*tokens, HOOK, "sekrit"):
            assert secret.encode() not in raw, raw
        message = orjson.loads(raw)
        shown = message["timer"]
        assert (shown["control_token"], shown["webhook_url"], shown["webhook_events"]) == (
            "", None, None)
    # What a hub needs to close a rotated presenter: the digest of the current token.
    assert [orjson.loads(raw)["control"] for raw in heard] == [
        timers.control_digest(timer.control_token),
        timers.control_digest(rotated.control_token),
        timers.control_digest(rotated.control_token)]
    await engine.unsubscribe(timer_channel(timer.id), receive)
