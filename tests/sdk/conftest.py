"""The Python client against a real `castimer serve`: the library is imported from
sdk/python/src (test_sdk_install.py installs it into a fresh venv instead)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import sqlite_url
from tests.servers import Server, make_key
from tests.webhooks.conftest import HOOK_ENV
from tests.webhooks.receiver import Receiver

SDK = Path(__file__).resolve().parents[2] / "sdk" / "python"
sys.path.insert(0, str(SDK / "src"))


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module, SQLite (the library does not see the engine), with the
    webhook settings of the webhook tests: loopback receivers allowed, retries in a second."""
    workdir = tmp_path_factory.mktemp("sdk-server")
    running = Server(sqlite_url(workdir), workdir, env=HOOK_ENV).start()
    yield running
    running.stop()


@pytest.fixture
def sdk_key(sdk_server: Server) -> str:
    """A fresh enterprise account per test."""
    return make_key(sdk_server.engine_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running
