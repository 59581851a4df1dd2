"""What every benchmark needs of the machine: free ports, CPU pinning, a process's CPU time
and memory, and `castimer serve` started on a CPU of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Pin only where there is more than one CPU to share out.
SEVERAL_CPUS = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def on_cpu(cpu: int, command: list[str]) -> list[str]:
    """`command` run on one CPU (by taskset)."""
    return ["taskset", "-c", str(cpu), *command] if SEVERAL_CPUS else command


def pin(cpus: set[int]) -> None:
    """This process on `cpus`."""
    if SEVERAL_CPUS:
        os.sched_setaffinity(0, cpus)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def family(pid: int) -> list[int]:
    """`pid` and every process below it (uvicorn's workers under its supervisor)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return found


def sockets_open(pid: int) -> int:
    """How many sockets the process has open (its viewers' connections, and a few more)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return count


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


def serve(engine_url: str, cpu: int, workdir: Path,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`castimer serve --log-level warning` on `cpu`, ready; its output in workdir."""
    port = free_port()
    command = on_cpu(cpu, [sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                           "--engine", engine_url, "--log-level", "warning"])
    with (workdir / f"server-{port}.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=workdir, env={**os.environ, **(env or {})},
                                   stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, process)
    return process


def port_of(server: subprocess.Popen[bytes]) -> int:
    """The port a server started by `serve` listens on."""
    command = [str(part) for part in server.args]  # type: ignore[union-attr]
    return int(command[command.index("--port") + 1])


def bench_key(engine_url: str) -> str:
    """An API key of the "bench" account (made on the enterprise plan if it is new), straight
    in the store, as `castimer keys create` makes one."""
    import asyncio

    from server import accounts
    from server.clock import now_ms
    from server.engines import create_engine

    async def make() -> str:
        engine = create_engine(engine_url)
        await engine.open()
        try:
            return (await accounts.key_for(engine, "bench", "enterprise", now_ms()))[1]
        finally:
            await engine.close()

    return asyncio.run(make())
