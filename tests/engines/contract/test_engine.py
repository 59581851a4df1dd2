"""Every engine is a whole `Engine` (server/engines/base.py): each narrow Protocol at once,
with its `Lifecycle`. Run against each engine."""

from __future__ import annotations

import pytest

from server.engines.base import Engine, Lifecycle

pytestmark = pytest.mark.anyio


async def test_engine_satisfies_the_protocol(engine):
    assert isinstance(engine, Engine)


async def test_engine_satisfies_lifecycle(engine):
    assert isinstance(engine, Lifecycle)
