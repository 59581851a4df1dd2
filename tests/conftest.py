"""Shared fixtures: one parametrized engine fixture runs every contract test on each engine."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.engines import create_engine
from tests.servers import RedisCluster, RedisServer, Server, client, make_key

#: Engines the servers of most tests run on.
ENGINES = ["sqlite", "redis"]
#: Engines the contract suite (and the tests of what a cluster must keep: exactly once across
#: processes, sockets across processes, webhooks through a crash) run on.
WITH_CLUSTER = [*ENGINES, "redis-cluster"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


#: Of pytest-timeout's limit, the part an async test has inside its event loop.
IN_LOOP_SHARE = 0.8


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Every async test runs under a deadline inside its own event loop, short of
    pytest-timeout's. Why: pytest-timeout's alarm interrupts the loop from outside, and anyio's
    runner then waits for the interrupted test before it tears down a fixture, so one hung
    await hangs the whole session (seen in CI: 90 minutes). A deadline inside the loop cancels
    the test's own awaits instead, and the test fails with its name, alone."""
    test = pyfuncitem.obj
    if inspect.iscoroutinefunction(test) and not hasattr(test, "hypothesis"):
        marker = pyfuncitem.get_closest_marker("timeout")
        config = pyfuncitem.config
        limit = float(marker.args[0] if marker and marker.args
                      else config.getoption("timeout", None) or config.getini("timeout") or 0)
        if limit > 0:
            pyfuncitem.obj = _bounded(test, limit * IN_LOOP_SHARE)
    try:
        yield
    finally:
        pyfuncitem.obj = test


def _bounded(test, limit: float):
    @functools.wraps(test)
    async def bounded(**kwargs):
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await test(**kwargs)
        finally:
            # Checked even when the test returned: a test that awaits a cancelled task under
            # pytest.raises(CancelledError) would take this deadline's cancellation for its own.
            if deadline.expired():
                pytest.fail(f"still running after {limit:.0f} s: cancelled in its own loop",
                            pytrace=False)

    return bounded


def sqlite_url(directory: object) -> str:
    return f"sqlite:///{directory}/castimer.db"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session, on a free port; tests that share it flush it first."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One Redis Cluster for the session: three masters, no replicas, on free ports; tests that
    share it flush it first."""
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def private_redis_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    """A cluster of the test's own, three masters and a replica each: for tests that kill a
    node, which would break the session's cluster for every test after them."""
    cluster = RedisCluster(tmp_path / "redis-cluster", replicas=1).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=WITH_CLUSTER)
def engine_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        redis.flush()
        return str(redis.url)
    if request.param == "redis-cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return str(cluster.url)
    return sqlite_url(tmp_path)


@pytest.fixture(params=ENGINES)
def private_engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An engine no other server of the session uses: for tests in which "the server is down"
    must mean that no process serves the store (a redis-server of the test's own)."""
    if request.param == "redis":
        server = RedisServer(tmp_path).start()
        yield server.url
        server.stop()
    else:
        yield sqlite_url(tmp_path)


@contextlib.asynccontextmanager
async def opened(url: str):
    store = create_engine(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def private_engine(private_engine_url: str):
    async with opened(private_engine_url) as store:
        yield store


@pytest.fixture
async def engine(engine_url: str):
    async with opened(engine_url) as store:
        yield store


@pytest.fixture(scope="session", params=ENGINES)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server per engine, shared by the session; tests make their own accounts."""
    workdir = tmp_path_factory.mktemp("api-server")
    url = sqlite_url(workdir)
    if request.param == "redis":
        # The session's redis-server; tests make their own accounts, so a flush by another
        # test costs this server nothing it still needs.
        url = request.getfixturevalue("redis_server").url
    running = Server(url, workdir).start()
    yield running
    running.stop()


@pytest.fixture
def key(server: Server) -> str:
    """A fresh enterprise account per test, so event logs and budgets do not mix."""
    return make_key(server.engine_url)


@pytest.fixture
def stranger_key(server: Server) -> str:
    """A key of another account than `key`'s."""
    return make_key(server.engine_url)


@pytest.fixture
def api(server: Server, key: str) -> Iterator[httpx.Client]:
    with client(server, key) as http:
        yield http
