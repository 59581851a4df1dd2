"""Limits at the edge (server/edge.py) on a real `castimer serve`: request heads over 16 KiB
get 431 without being buffered whole, slow heads are closed, and one address cannot hold a
thousand unfinished heads open."""

from __future__ import annotations

import importlib.metadata
import os
import selectors
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from packaging.requirements import Requirement
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server import edge
from tests.conftest import sqlite_url
from tests.servers import Server, free_port

ROOT = Path(__file__).resolve().parent.parent


def start(tmp_path: Path, **env: str) -> Server:
    return Server(sqlite_url(tmp_path), tmp_path, env=env).start()


@pytest.fixture
def edge_server(tmp_path: Path) -> Iterator[Server]:
    running = start(tmp_path, CASTIMER_HEADER_TIMEOUT="2")
    yield running
    running.stop()


def exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """What the server answers to `request`, up to its closing the connection (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(request)
        except OSError:  # refused and closed while we were still sending
            pass
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return answer


def head(size: int, path: str = "/healthz", close: bool = True) -> bytes:
    """A GET whose head is `size` bytes, padded with one header."""
    start_ = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    end = b"Connection: close\r\n\r\n" if close else b"\r\n"
    pad = size - len(start_) - len(end) - len(b"X-Pad: \r\n")
    return start_ + b"X-Pad: " + b"a" * pad + b"\r\n" + end


def test_the_adapters_assumptions_about_uvicorn_hold() -> None:
    """server/edge.py extends these methods of uvicorn's httptools protocol; if uvicorn renames
    or drops one, or is upgraded past the range the adapter was checked with, this fails."""
    for name in ("connection_made", "connection_lost", "data_received", "on_message_begin",
                 "on_headers_complete", "on_body", "on_message_complete"):
        assert name in vars(HttpToolsProtocol), name
    [pin] = [Requirement(r) for r in importlib.metadata.requires("castimer") or []
             if Requirement(r).name == "uvicorn"]
    assert pin.specifier.contains(uvicorn.__version__), (pin, uvicorn.__version__)
    assert issubclass(edge.EdgeProtocol, HttpToolsProtocol)


def test_heads_over_16_kib_are_refused_with_431(edge_server: Server) -> None:
    refused = exchange(edge_server.port, head(edge.MAX_HEAD + 1))
    assert refused == b"" or refused.startswith(b"HTTP/1.1 431 "), refused[:200]
    served = exchange(edge_server.port, head(edge.MAX_HEAD))
    assert served.startswith(b"HTTP/1.1 200 "), served[:200]


def test_bodies_and_later_requests_on_a_connection_do_not_count_toward_the_head(
        edge_server: Server) -> None:
    body = b'{"title": "' + b"x" * 40_000 + b'"}'
    upload = (b"POST /api/v1/timers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
              b"Content-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert exchange(edge_server.port, upload).startswith(b"HTTP/1.1 401 ")  # no key: but read
    with socket.create_connection(("127.0.0.1", edge_server.port), timeout=10) as conn:
        for _ in range(3):  # three 10 KiB heads on one kept-alive connection
            conn.sendall(head(10 * 1024, close=False))
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                answer += conn.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    pipelined = exchange(edge_server.port, head(10 * 1024, close=False) * 2
                         + head(10 * 1024))
    assert pipelined.count(b"HTTP/1.1 200 ") == 3, pipelined[:300]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_rss_stays_flat_under_four_40_mb_authorization_headers(edge_server: Server) -> None:
    assert edge_server.process is not None
    pid = edge_server.process.pid
    for _ in range(20):  # warm up: the first requests import and cache what a request needs
        httpx.get(f"{edge_server.base}/api/v1/account", headers={"Authorization": "Bearer x"})
    before = rss_kib(pid)
    chunk = b"a" * 65536
    answers: list[bytes] = []

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", edge_server.port), timeout=30) as conn:
            try:
                conn.sendall(b"GET /api/v1/account HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Authorization: Bearer ")
                for _ in range(40 * 1024 * 1024 // len(chunk)):
                    conn.sendall(chunk)
                conn.sendall(b"\r\n\r\n")
                answers.append(conn.recv(65536))
            except OSError:  # refused and closed mid-send: the point
                answers.append(b"closed")

    attackers = [threading.Thread(target=attack) for _ in range(4)]
    for thread in attackers:
        thread.start()
    for thread in attackers:
        thread.join(60)
    after = rss_kib(pid)
    # Unbounded, the server went from 44 MB to a 309 MB peak, 124 MB after, and answered 401.
    assert after - before < 8 * 1024, f"RSS {before} KiB before, {after} KiB after"
    assert len(answers) == 4 and all(a == b"closed" or a.startswith(b"HTTP/1.1 431 ")
                                     for a in answers), answers
    assert httpx.get(f"{edge_server.base}/healthz").status_code == 200


def test_rss_stays_flat_under_four_40_mb_chunked_trailers(edge_server: Server) -> None:
    """Trailer fields come after a chunked body's last chunk, and httptools buffers them whole:
    the same attack as a huge header, sent where the head's count has stopped."""
    assert edge_server.process is not None
    pid = edge_server.process.pid
    for _ in range(20):
        httpx.get(f"{edge_server.base}/api/v1/account", headers={"Authorization": "Bearer x"})
    before, peak = rss_kib(pid), [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.01)

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", edge_server.port), timeout=30) as conn:
            try:
                conn.sendall(b"POST /api/v1/timers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: ")
                for _ in range(40 * 1024 * 1024 // 65536):
                    conn.sendall(b"a" * 65536)
                conn.sendall(b"\r\n\r\n")
                conn.recv(65536)
            except OSError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    attackers = [threading.Thread(target=attack) for _ in range(4)]
    for thread in attackers:
        thread.start()
    for thread in attackers:
        thread.join(60)
    done.set()
    watcher.join()
    # Unbounded: 51 MB to a 270 MB peak.
    assert peak[0] - before < 16 * 1024, f"RSS {before} KiB before, peak {peak[0]} KiB"
    # A chunked body of many small chunks with a small trailer is still read.
    chunks = b"".join(b"1\r\n" + bytes([c]) + b"\r\n" for c in b'{"title": "' + b"x" * 3000
                      + b'"}')
    upload = (b"POST /api/v1/timers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
              + chunks + b"0\r\nX-Trailer: fine\r\n\r\n")
    assert exchange(edge_server.port, upload).startswith(b"HTTP/1.1 401 ")  # read, then no key


def closes_within(conn: socket.socket, seconds: float) -> bool:
    conn.settimeout(seconds)
    try:
        return conn.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_connection_that_does_not_finish_its_head_is_closed(edge_server: Server) -> None:
    port = edge_server.port
    with socket.create_connection(("127.0.0.1", port)) as silent, \
            socket.create_connection(("127.0.0.1", port)) as slow, \
            socket.create_connection(("127.0.0.1", port)) as kept_alive:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        kept_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += kept_alive.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 ")
        kept_alive.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request, never finished
        started = time.monotonic()
        for conn in (silent, slow, kept_alive):
            assert closes_within(conn, 8)
        assert time.monotonic() - started < 8


def test_a_thousand_slow_heads_from_one_address_do_not_stay_open(tmp_path: Path) -> None:
    server = start(tmp_path, CASTIMER_HEADER_TIMEOUT="6",
                   CASTIMER_HEADER_CONNECTIONS_PER_IP="50")
    try:
        started = time.monotonic()
        conns = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(1000)]
        for conn in conns:
            try:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:  # already refused
                pass
        open_ = set(conns)
        with selectors.DefaultSelector() as waiting:
            for conn in conns:
                waiting.register(conn, selectors.EVENT_READ)
            open_at_timeout = None
            while open_ and time.monotonic() - started < 20:
                if open_at_timeout is None and time.monotonic() - started > 5:
                    open_at_timeout = len(open_)  # before any head timeout could fire
                for key, _ in waiting.select(0.1):
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    try:
                        assert conn.recv(1024) == b""
                    except ConnectionResetError:
                        pass
                    waiting.unregister(conn)
                    open_.discard(conn)
        assert not open_, f"{len(open_)} of 1000 still open after 20 s"
        assert open_at_timeout is None or open_at_timeout <= 50
        assert httpx.get(f"{server.base}/healthz").status_code == 200
    finally:
        for conn in conns:
            conn.close()
        server.stop()


def test_the_procfiles_uvicorn_line_uses_the_edge_protocol(tmp_path: Path) -> None:
    [web] = [line.removeprefix("web: ") for line in (ROOT / "Procfile").read_text().splitlines()
             if line.startswith("web: ")]
    words = shlex.split(web)
    assert words[0] == "uvicorn"
    port = free_port()
    command = f"exec {shlex.quote(sys.executable)} -m " + web.replace("0.0.0.0", "127.0.0.1")
    env = {**os.environ, "PORT": str(port), "CASTIMER_ENGINE": sqlite_url(tmp_path)}
    with (tmp_path / "web.log").open("wb") as out:
        process = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, \
                    (tmp_path / "web.log").read_text()
                time.sleep(0.05)
        refused = exchange(port, head(edge.MAX_HEAD + 1))
        assert refused == b"" or refused.startswith(b"HTTP/1.1 431 "), refused[:200]
        assert exchange(port, head(1000)).startswith(b"HTTP/1.1 200 ")
    finally:
        process.terminate()
        process.wait(10)
