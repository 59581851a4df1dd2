"""Webhook benchmark: completion → request at the receiver, and deliveries per second.

    python bench/webhooks.py --rate 100 --seconds 10 --burst 5000 [--engine sqlite|redis|cluster]

A local receiver (a lean asyncio HTTP/1.1 server in this process) answers 204 at once and
records when each request arrived. `castimer serve` runs pinned to CPU 0; this process (the
receiver) to CPU 1, where the machine has one.

  latency     `rate` * `seconds` countdown timers with a webhook for timer.completed, started
              1/rate s apart so they complete at `rate` per second; per completion: receive
              time minus the deadline (the body's timestamp), split into the scheduler's part
              (data.late_ms, deadline → commit) and the rest (commit → POST received).
  throughput  `burst` deliveries put in the outbox at once, each of its own timer; deliveries
              per second the one server process sends (first to last received), and its CPU
              per delivery; against a baseline: a bare httpx.AsyncClient posting the same bodies
              to the same receiver with the same concurrency from one process pinned alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from bench._machine import cpu_seconds, free_port, on_cpu, pin, serve  # noqa: E402
from server import accounts, commit, ids  # noqa: E402
from server.clock import now_ms  # noqa: E402
from server.engines import create_engine  # noqa: E402
from server.engines.base import DeliveryRecord  # noqa: E402
from server.webhooks.dispatcher import CONNECTIONS_PER_CLIENT  # noqa: E402

CONCURRENCY = 100


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Receiver(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, Content-Length bodies only: what the dispatcher sends."""

    arrivals: list[tuple[float, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15:head.find(b"\r\n", start) if
                              head.find(b"\r\n", start) > 0 else None]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            Receiver.arrivals.append((time.time(), body))
            self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


async def latency(engine, account_id: str, url: str, rate: int, seconds: int) -> dict:
    count = rate * seconds
    duration = seconds + 3  # every start is made before the first completion
    made = [await commit.create(engine, account_id, {
        "type": "countdown", "duration": duration, "webhook_url": url,
        "webhook_events": ["timer.completed"]}) for _ in range(count)]
    Receiver.arrivals.clear()
    began = time.monotonic()
    for n, timer in enumerate(made):
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        await commit.command(engine, account_id, timer.id, "start")
    wait_until = time.monotonic() + duration + 30
    while len(Receiver.arrivals) < count and time.monotonic() < wait_until:
        await asyncio.sleep(0.1)
    total, scheduler = [], []
    for arrived, body in Receiver.arrivals:
        event = orjson.loads(body)
        total.append(arrived * 1000 - iso_ms(event["timestamp"]))
        scheduler.append(event["data"].get("late_ms", 0))
    dispatch = [t - s for t, s in zip(total, scheduler, strict=True)]
    return {"completions": count, "received": len(total),
            "p50": percentile(total, 50), "p99": percentile(total, 99), "max": max(total),
            "scheduler_p50": percentile(scheduler, 50), "scheduler_p99":
                percentile(scheduler, 99),
            "dispatch_p50": percentile(dispatch, 50), "dispatch_p99": percentile(dispatch, 99)}


async def throughput(engine, account_id: str, url: str, burst: int, server_pid: int) -> dict:
    body = orjson.dumps({"id": "evt_x", "event": "timer.completed", "timestamp":
                         "2026-01-01T00:00:00.000Z", "timer_id": "tmr_x", "title": "bench",
                         "type": "countdown", "data": {"state": "completed", "duration": 60}})
    Receiver.arrivals.clear()
    cpu_before = cpu_seconds(server_pid)
    now = now_ms()
    # As a commit would write them: each of its own timer of the account, so in its shard.
    timer_ids = [ids.timer_id(account_id) for _ in range(burst)]
    records = [DeliveryRecord(ids.delivery_id(timer_id), account_id, timer_id, "evt_x", url,
                              body, now) for timer_id in timer_ids]
    for start in range(0, burst, 500):
        await engine.add_deliveries(records[start:start + 500], now)
    wait_until = time.monotonic() + 120
    while len(Receiver.arrivals) < burst and time.monotonic() < wait_until:
        await asyncio.sleep(0.05)
    cpu = cpu_seconds(server_pid) - cpu_before
    first, last = Receiver.arrivals[0][0], Receiver.arrivals[-1][0]
    return {"deliveries": len(Receiver.arrivals), "per_second": len(Receiver.arrivals) /
            (last - first), "cpu_ms_per_delivery": cpu * 1000 / len(Receiver.arrivals),
            "body": body}


#: Bare httpx posting `count` bodies with `concurrency` requests in flight over clients of `per`
#: connections each, on uvloop like the server: no store, no signing, no bookkeeping.
BASELINE = """
import asyncio, sys, time, httpx, uvloop
url, count, size, concurrency, per = sys.argv[1], *map(int, sys.argv[2:6])
body = b"x" * size
async def main():
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    clients = [httpx.AsyncClient(limits=limits, trust_env=False)
               for _ in range(-(-concurrency // per))]
    queue = iter(range(count))
    async def worker(n):
        for _ in queue:
            await clients[n % len(clients)].post(
                url, content=body, headers={"Content-Type": "application/json"})
    began = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    print(count / (time.perf_counter() - began))
    for client in clients:
        await client.aclose()
uvloop.run(main())
"""


def baseline(url: str, burst: int, size: int, per: int) -> float:
    command = on_cpu(0, [sys.executable, "-c", BASELINE, url, str(burst), str(size),
                         str(CONCURRENCY), str(per)])
    return float(subprocess.run(command, stdout=subprocess.PIPE, check=True,
                                timeout=300).stdout)


async def run(args: argparse.Namespace) -> None:
    pin({1})
    workdir = Path(tempfile.mkdtemp(prefix="castimer-bench-"))
    redis, cluster = None, None
    if args.engine == "cluster":  # three masters on loopback: the tests' fixture
        from tests.servers import RedisCluster

        cluster = RedisCluster(workdir / "cluster", durable=False).start()
        engine_url = cluster.url
    elif args.engine == "redis":
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind",
                                  "127.0.0.1", "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL)
        engine_url = f"redis://127.0.0.1:{redis_port}/0"
        time.sleep(0.3)
    else:
        engine_url = f"sqlite:///{workdir}/castimer.db"
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(Receiver, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/hook"
    engine = create_engine(engine_url)
    await engine.open()
    account, _ = await accounts.key_for(engine, "bench", "enterprise", now_ms())
    server = serve(engine_url, 0, workdir, {"CASTIMER_ALLOW_PRIVATE_WEBHOOKS": "1",
                                            "CASTIMER_WEBHOOK_CONCURRENCY": str(CONCURRENCY)})
    try:
        late = await latency(engine, account.id, url, args.rate, args.seconds)
        fast = await throughput(engine, account.id, url, args.burst, server.pid)
    finally:
        server.terminate()
        server.wait(10)
        await engine.close()
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        if cluster is not None:
            cluster.stop()
    signed_size = len(fast["body"]) + 80  # the signature field the dispatcher adds
    floor = await loop.run_in_executor(None, baseline, url, args.burst, signed_size,
                                       CONNECTIONS_PER_CLIENT)
    naive = await loop.run_in_executor(None, baseline, url, args.burst, signed_size,
                                       CONCURRENCY)
    listener.close()
    print(f"engine {args.engine}; {os.cpu_count()} CPUs; server pinned to CPU 0, receiver "
          f"to CPU 1")
    print(f"latency at {args.rate} completions/s for {args.seconds} s: "
          f"{late['received']}/{late['completions']} received")
    print(f"  completion → receiver  p50 {late['p50']:.1f} ms  p99 {late['p99']:.1f} ms  "
          f"max {late['max']:.1f} ms")
    print(f"  of which scheduler     p50 {late['scheduler_p50']:.1f} ms  "
          f"p99 {late['scheduler_p99']:.1f} ms  (deadline → commit, data.late_ms)")
    print(f"  of which dispatch      p50 {late['dispatch_p50']:.1f} ms  "
          f"p99 {late['dispatch_p99']:.1f} ms  (commit → request received)")
    print(f"throughput: {fast['deliveries']} deliveries, {fast['per_second']:.0f}/s from one "
          f"process, {fast['cpu_ms_per_delivery']:.2f} ms CPU each")
    print(f"  bare httpx, clients of {CONNECTIONS_PER_CLIENT} connections (the floor): "
          f"{floor:.0f}/s; castimer / floor = {fast['per_second'] / floor:.2f}")
    print(f"  bare httpx, one client of {CONCURRENCY} connections (naive): {naive:.0f}/s; "
          f"castimer / naive = {fast['per_second'] / naive:.2f}")
    if args.json:
        del fast["body"]
        Path(args.json).write_text(json.dumps({"engine": args.engine, "latency": late,
                                               "throughput": fast, "floor": floor,
                                               "naive": naive}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "redis", "cluster"], default="sqlite")
    parser.add_argument("--rate", type=int, default=100, help="completions per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=5000, help="deliveries for throughput")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
