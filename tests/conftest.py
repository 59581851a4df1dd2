"""Shared fixtures: one parametrized engine fixture runs every contract test on each engine."""

from __future__ import annotations

import pytest

from server.engines import create_engine

#: Engines the contract suite runs on.
ENGINES = ["sqlite"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sqlite_url(directory: object) -> str:
    return f"sqlite:///{directory}/castimer.db"


@pytest.fixture(params=ENGINES)
def engine_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
async def engine(engine_url: str):
    store = create_engine(engine_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
