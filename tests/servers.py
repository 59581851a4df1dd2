"""Real servers for tests: `castimer serve` in a subprocess on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from server import accounts
from server.clock import now_ms
from server.engines import create_engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `castimer serve` process. Its output goes to a file in `workdir`."""

    def __init__(self, engine_url: str, workdir: Path, env: dict[str, str] | None = None,
                 port: int | None = None, args: tuple[str, ...] = (),
                 command: list[str] | None = None) -> None:
        #: How to run `castimer`: this checkout's by default, or an installed one.
        self.command = command or [sys.executable, "-m", "server.cli"]
        self.engine_url = engine_url
        self.workdir = workdir
        self.env = {**os.environ, "CASTIMER_SCHEDULER_POLL": "0.2", **(env or {})}
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args  # more of `castimer serve`'s options (--workers 2)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"server-{self.port}.log"

    def start(self, timeout: float = 20) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*self.command, "serve", "--port", str(self.port),
                 "--engine", self.engine_url, "--log-level", "warning", *self.args],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready: {self.log.read_text()}")

    def output(self) -> str:
        return self.log.read_text()

    def printed_key(self) -> str:
        found = re.findall(r"ck_live_\w+", self.output())
        assert found, self.output()
        return found[-1]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, patience: float = 10) -> None:
        """SIGTERM, and SIGKILL if it has not stopped within `patience` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(patience)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def make_key(engine_url: str, plan: str = "enterprise", account: str | None = None) -> str:
    """A key for a new account (or `account`) made straight in the store, as the CLI does."""

    async def make() -> str:
        engine = create_engine(engine_url)
        await engine.open()
        try:
            name = account or f"test-{time.time_ns()}"
            return (await accounts.key_for(engine, name, plan, now_ms()))[1]
        finally:
            await engine.close()

    return asyncio.run(make())


def client(server: Server, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f"{server.base}/api/v1", headers=headers, timeout=10)


class RedisServer:
    """A private redis-server on a free loopback port (never the machine's 6379), with an
    append-only file fsynced on every write, so a restart loses nothing."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def command(self, *words: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(" ".join(words).encode() + b"\r\n")
            return conn.recv(65536)

    def flush(self) -> None:
        assert self.command("FLUSHALL").startswith(b"+OK")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
