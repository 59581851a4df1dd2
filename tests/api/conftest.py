"""A real server shared by the API tests, once on each engine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ENGINES, sqlite_url
from tests.servers import Server, client, make_key


@pytest.fixture(scope="session", params=ENGINES)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
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
def api(server: Server, key: str) -> Iterator[httpx.Client]:
    with client(server, key) as http:
        yield http
