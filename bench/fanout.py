"""Fan-out benchmark: N viewers over K timers, ticks measured at the clients.

    python bench/fanout.py --viewers 10000 --timers 10 --seconds 60
    python bench/fanout.py --viewers 10000 --phases aligned --targets castimer,baseline \
        --workers 2 --engine redis

Runs the same load, one after the other, against
  castimer  `castimer serve` (SQLite engine; `--engine redis` starts a private redis-server,
            or give a redis:// URL): the hub, the ticker, uvicorn's websockets; with
            `--workers N` (Redis only) N uvicorn workers behind one port;
  baseline  a bare `websockets` server that sends byte-identical tick messages with
            `websockets.broadcast` at every whole second (the floor for Python); with
            `--workers N`, N such processes on one port (SO_REUSEPORT);
  naive     a Starlette endpoint on uvicorn that `asyncio.gather`s `send_text` to every socket
            (what one writes without a hub).
Each server is pinned to CPU 0 and the client processes to the other CPUs, where the machine has
them; with `--workers N` above 1 the server processes are not pinned (each needs a core).
Measured per target over the window: ticks delivered / expected, tick lateness (client receive
time minus the tick's whole-second boundary) p50/p99, server CPU seconds per 1,000
delivered messages, server RSS per connection; then ratios against the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._machine import (  # noqa: E402
    bench_key,
    cpu_seconds,
    family,
    free_port,
    on_cpu,
    pin,
    rss_bytes,
    sockets_open,
)

#: Start the timers at even offsets through a second (as timers started by people are), or
#: all at once so every tick of every timer falls on the same instant (the worst case).
SPREAD = os.environ.get("FANOUT_PHASES", "spread") == "spread"


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def server_cpus() -> set[int]:
    return {min(os.sched_getaffinity(0))}


def client_cpus() -> set[int]:
    cpus = os.sched_getaffinity(0)
    return (cpus - server_cpus()) or cpus


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# -- the tick message, identical for every target ---------------------------------------------


def sample_timer(timer_id: str, seconds: int):
    from server import timers

    now = int(time.time() * 1000)
    created = timers.create(timer_id, "acct_bench", {"title": "Benchmark", "type": "countdown",
                                                    "duration": seconds}, now).timer
    return timers.apply(created, "start", now).timer


def baseline_ticks(rooms: dict[str, set], send) -> None:
    """Run forever: at each whole second of each timer, send `tick_message` to its room."""
    import orjson

    from server.ticker import next_tick, tick_message

    async def run() -> None:
        states = {}
        for timer_id in rooms:
            states[timer_id] = sample_timer(timer_id, 86_400)
            if SPREAD:  # start the timers at even offsets through the second
                await asyncio.sleep(1 / len(rooms))
        # Each timer's next tick follows from its last, not from the clock after a send: when
        # the rooms' ticks fall a few ms apart (phases aligned) and one room's send takes
        # longer than that, a tick recomputed from `now` skipped the other rooms' ticks.
        now = int(time.time() * 1000)
        due = {timer_id: next_tick(timer, now) or 2**62 for timer_id, timer in states.items()}
        while True:
            timer_id = min(due, key=due.__getitem__)
            await asyncio.sleep(max(0, due[timer_id] / 1000 - time.time()))
            timer = states[timer_id]
            await send(rooms[timer_id], orjson.dumps(tick_message(timer, due[timer_id])).decode())
            due[timer_id] = next_tick(timer, due[timer_id]) or 2**62  # finished: never

    return run()


def serve_baseline(port: int, timers: int, reuse_port: bool = False) -> None:
    """A bare websockets server: websockets.broadcast, the floor for Python."""
    import uvloop
    from websockets.asyncio.server import broadcast, serve

    rooms: dict[str, set] = {f"tmr_bench{k}": set() for k in range(timers)}

    async def handler(connection) -> None:
        room = rooms[connection.request.path.rsplit("/", 1)[1]]
        room.add(connection)
        try:
            await connection.wait_closed()
        finally:
            room.discard(connection)

    async def send(room: set, text: str) -> None:
        broadcast(room, text)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None,
                         backlog=4096, reuse_port=reuse_port):
            await baseline_ticks(rooms, send)

    uvloop.run(main())


def serve_naive(port: int, timers: int) -> None:
    """Starlette on uvicorn, `asyncio.gather` of `send_text` to every socket of a room."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    rooms: dict[str, set] = {f"tmr_bench{k}": set() for k in range(timers)}

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        room = rooms[websocket.path_params["timer_id"]]
        room.add(websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            room.discard(websocket)

    async def send(room: set, text: str) -> None:
        await asyncio.gather(*(ws.send_text(text) for ws in list(room)),
                             return_exceptions=True)

    async def lifespan(app):
        task = asyncio.create_task(baseline_ticks(rooms, send))
        yield
        task.cancel()

    import contextlib

    app = Starlette(routes=[WebSocketRoute("/ws/timers/{timer_id}", endpoint)],
                    lifespan=contextlib.asynccontextmanager(lifespan))
    uvicorn.run(app, host="127.0.0.1", port=port, ws="websockets-sansio",
                ws_per_message_deflate=False, ws_ping_interval=None, log_level="warning",
                backlog=4096)


# -- clients ----------------------------------------------------------------------------------


class _LeanViewer(asyncio.Protocol):
    """A websocket viewer that does the least a client can: reads frames, and for each tick
    notes when it arrived against its `server_time`. A full client library costs ~30 µs a
    message in Python; at 10,000 messages a second that would measure the clients, not the
    server."""

    def __init__(self, path: str, host: str, record) -> None:
        self.path, self.host, self.record = path, host, record
        self.buffer = bytearray()
        self.open = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                        .encode())

    def connection_lost(self, exc) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the handshake"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buffer[:80])))
                return
            del buffer[:end + 4]
            self.open = True
            self.ready.set_result(None)
        while len(buffer) >= 2:
            length, header = buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, header = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, header = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < header + length:
                return
            if buffer[0] & 0x0F == 1 and buffer.startswith(b'"type":"tick"', header + 1):
                at = buffer.find(b'"server_time":', header)
                stop = buffer.find(b",", at)
                self.record(int(buffer[at + 14:stop]), now * 1000)
            del buffer[:header + length]


def run_clients(port: int, timer_ids: list[str], count: int, start: float, stop: float,
                out: str) -> None:
    """One client process: `count` viewers; records tick lateness inside [start, stop)."""
    import uvloop

    lateness = array("f")
    connected = 0

    def record(boundary_ms: int, received_ms: float) -> None:
        if start * 1000 <= boundary_ms < stop * 1000:  # ticks of the window, however late
            lateness.append(received_ms - boundary_ms)

    async def viewer(n: int, gate: asyncio.Semaphore) -> None:
        nonlocal connected
        path = f"/ws/timers/{timer_ids[n % len(timer_ids)]}"
        loop = asyncio.get_running_loop()
        async with gate:
            for attempt in range(20):
                try:
                    _, protocol = await loop.create_connection(
                        lambda: _LeanViewer(path, f"127.0.0.1:{port}", record),
                        "127.0.0.1", port)
                    await asyncio.wait_for(protocol.ready, 60)
                    break
                except (OSError, ConnectionError, TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            else:
                return
        connected += 1

    async def main() -> None:
        gate = asyncio.Semaphore(100)
        await asyncio.gather(*(viewer(n, gate) for n in range(count)), return_exceptions=True)
        await asyncio.sleep(max(0, stop - time.time()) + 2.0)  # the last ticks arrive late

    raise_fd_limit()
    pin(client_cpus())
    uvloop.run(main())
    Path(out).write_text(json.dumps({"delivered": len(lateness), "connected": connected,
                                     "lateness": lateness.tolist()}))


# -- one target -------------------------------------------------------------------------------


def start_target(name: str, port: int, args: argparse.Namespace,
                 url: str) -> tuple[list[subprocess.Popen], list[str]]:
    env = {**os.environ, "CASTIMER_WS_MAX_CONNECTIONS_PER_IP": "1000000",
           "CASTIMER_WS_PING_INTERVAL": "3600", "CASTIMER_WS_PING_TIMEOUT": "3600",
           "CASTIMER_SECRET_KEY": "bench-" + "k" * 40}
    pinned = args.workers == 1

    def start(command: list[str]) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                preexec_fn=lambda: (raise_fd_limit(),
                                                    pin(server_cpus()) if pinned else None))

    if name == "castimer":
        processes = [start([sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                            "--engine", url, "--log-level", "warning",
                            "--workers", str(args.workers)])]
    elif name == "baseline":
        processes = [start([sys.executable, __file__, "--serve-baseline", str(port),
                            str(args.timers), str(int(args.workers > 1))])
                     for _ in range(args.workers)]
    else:
        processes = [start([sys.executable, __file__, f"--serve-{name}", str(port),
                            str(args.timers)])]
    wait_port(port)
    if name != "castimer":
        time.sleep(0.5)  # every process of the port listening
        return processes, [f"tmr_bench{k}" for k in range(args.timers)]
    seconds, timers = args.seconds, args.timers
    import httpx

    key = bench_key(url)
    ids = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1",
                      headers={"Authorization": f"Bearer {key}"}) as api:
        for _ in range(timers):
            timer = api.post("/timers", json={"title": "Benchmark", "type": "countdown",
                                              "duration": seconds + 600}).json()
            api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
            ids.append(timer["id"])
            if SPREAD:
                time.sleep(1 / timers)
    return processes, ids


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, args: argparse.Namespace, engine_url: str) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        url = engine_url or f"sqlite:///{tmp}/bench.db"
        servers, timer_ids = start_target(name, port, args, url)

        def pids() -> list[int]:
            return [pid for server in servers for pid in family(server.pid)]

        def cpu() -> float:
            return sum(cpu_seconds(pid) for pid in pids())

        try:
            idle_rss = sum(rss_bytes(pid) for pid in pids())
            connect_budget = max(20.0, args.viewers / 400)
            start = time.time() + connect_budget
            start = float(int(start)) + 0.5  # windows of whole ticks, between boundaries
            stop = start + args.seconds
            clients, outputs = [], []
            share = [args.viewers // args.clients + (1 if n < args.viewers % args.clients else 0)
                     for n in range(args.clients)]
            for n, count in enumerate(share):
                out = f"{tmp}/client{n}.json"
                outputs.append(out)
                clients.append(subprocess.Popen(
                    [sys.executable, __file__, "--client", str(port), ",".join(timer_ids),
                     str(count), str(start), str(stop), out], cwd=ROOT))
            time.sleep(max(0, start - time.time()))
            cpu_before = cpu()
            time.sleep(max(0, stop - time.time()))
            used = cpu() - cpu_before
            rss = sum(rss_bytes(pid) for pid in pids())
            # Viewers' sockets per serving process (uvicorn's supervisor holds none of them).
            spread = [n for n in (sockets_open(pid) for pid in pids()) if n > 5]
            for process in clients:
                process.wait(timeout=120)
        finally:
            for server in servers:
                server.send_signal(signal.SIGINT)
            for server in servers:
                try:
                    server.wait(20)
                except subprocess.TimeoutExpired:
                    server.kill()
        results = [json.loads(Path(out).read_text()) for out in outputs]
    delivered = sum(r["delivered"] for r in results)
    connected = sum(r["connected"] for r in results)
    lateness = [v for r in results for v in r["lateness"]]
    expected = args.viewers * args.seconds
    return {"target": name, "workers": args.workers, "viewers": args.viewers,
            "connected": connected, "sockets_per_process": spread,
            "delivered": delivered, "expected": expected,
            "delivered_ratio": delivered / expected,
            "lateness_p50_ms": percentile(lateness, 0.50),
            "lateness_p99_ms": percentile(lateness, 0.99),
            "lateness_max_ms": max(lateness) if lateness else float("nan"),
            "cpu_s": used, "cpu_ms_per_1000": used * 1e6 / max(1, delivered),
            "rss_per_connection_kb": (rss - idle_rss) / 1024 / max(1, connected)}


def private_redis() -> tuple[subprocess.Popen, str]:
    """A redis-server for the run, on the clients' CPU (not the servers')."""
    port = free_port()
    process = subprocess.Popen(on_cpu(max(client_cpus()), [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no"]), stdout=subprocess.DEVNULL)
    wait_port(port)
    return process, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, ids, count, start, stop, out = sys.argv[2:8]
        run_clients(int(port), ids.split(","), int(count), float(start), float(stop), out)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-baseline":
        serve_baseline(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-naive":
        serve_naive(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--timers", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--targets", default="castimer,baseline,naive")
    parser.add_argument("--phases", choices=["spread", "aligned"], default="spread",
                        help="timers started at even offsets through a second (as people "
                             "start them), or all at once: every tick on one instant")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes behind one port (castimer: Redis engine only)")
    parser.add_argument("--engine", default="sqlite",
                        help="castimer's engine: sqlite, redis (a private redis-server for "
                             "the run) or a redis:// URL")
    args = parser.parse_args()
    targets = args.targets.split(",")
    if args.workers > 1 and args.engine == "sqlite" and "castimer" in targets:
        parser.error("--workers above 1 needs --engine redis (SQLite serves one process)")
    if args.workers > 1 and "naive" in targets:
        parser.error("the naive target runs one process")
    os.environ["FANOUT_PHASES"] = args.phases  # the target servers read it too
    global SPREAD
    SPREAD = args.phases == "spread"
    raise_fd_limit()
    redis, engine_url = None, ""
    if args.engine == "redis":
        redis, engine_url = private_redis()
    elif args.engine != "sqlite":
        engine_url = args.engine
    rows = []
    try:
        for name in targets:
            print(f"… {name}: {args.viewers} viewers over {args.timers} timers for "
                  f"{args.seconds} s, phases {args.phases}, {args.workers} process(es)",
                  flush=True)
            rows.append(measure(name, args, engine_url))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)
    base = next((r for r in rows if r["target"] == "baseline"), None)
    print(f"\n{'target':<10} {'delivered':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'CPU ms/1000':>12} {'x baseline':>11} {'RSS KB/conn':>12}")
    for r in rows:
        ratio = r["cpu_ms_per_1000"] / base["cpu_ms_per_1000"] if base else float("nan")
        print(f"{r['target']:<10} {r['delivered_ratio']:>9.3%} {r['lateness_p50_ms']:>8.1f} "
              f"{r['lateness_p99_ms']:>8.1f} {r['lateness_max_ms']:>8.1f} "
              f"{r['cpu_ms_per_1000']:>12.1f} {ratio:>11.2f} {r['rss_per_connection_kb']:>12.1f}")


if __name__ == "__main__":
    main()
