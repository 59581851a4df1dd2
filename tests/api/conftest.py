"""A real server shared by the API tests (SQLite engine in a temporary directory)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("api-server")
    running = Server(sqlite_url(workdir), workdir).start()
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
