"""What every engine promises as `Presence` (server/engines/base.py): viewers summed over
every process until a process's entry expires. Run against each engine."""

from __future__ import annotations

import pytest

from server.engines.base import Presence
from tests.engines.contract.records import T0

pytestmark = pytest.mark.anyio


async def test_engine_satisfies_presence(engine):
    assert isinstance(engine, Presence)


async def test_presence_sums_every_process_until_its_entry_expires(engine):
    await engine.set_presence("tmr_p", "proc_a", 3, T0 + 10_000)
    await engine.set_presence("tmr_p", "proc_b", 2, T0 + 20_000)
    await engine.set_presence("tmr_q", "proc_a", 1, T0 + 10_000)
    assert await engine.count_viewers(["tmr_p", "tmr_q", "tmr_none"], T0) == [5, 1, 0]
    await engine.set_presence("tmr_p", "proc_a", 1, T0 + 10_000)  # a newer record replaces
    assert await engine.count_viewers(["tmr_p"], T0) == [3]
    # proc_a died: its entries stop counting once they expire.
    assert await engine.count_viewers(["tmr_p", "tmr_q"], T0 + 10_000) == [2, 0]
    await engine.set_presence("tmr_p", "proc_b", 0, T0 + 20_000)
    assert await engine.count_viewers(["tmr_p"], T0) == [1]
    assert await engine.count_viewers([], T0) == []
