"""Request bodies at the edge: an upload the client abandons is no server error."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import sqlite_url
from tests.servers import Server, make_key


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, so its log holds this test's requests only."""
    running = Server(sqlite_url(tmp_path), tmp_path).start()
    yield running
    running.stop()


def test_an_aborted_upload_is_not_logged_as_an_error(own_server: Server) -> None:
    key = make_key(own_server.engine_url)
    for path in ("/api/v1/timers", "/dashboard/sign-in"):
        with socket.create_connection(("127.0.0.1", own_server.port)) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Bearer {key}\r\nOrigin: {own_server.base}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                         '{"title":"'.encode())
    # Nothing to wait on when nothing is logged: without the handler the traceback shows
    # within milliseconds.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert "Traceback" not in own_server.output()
        assert "unhandled error" not in own_server.output()
        time.sleep(0.05)
