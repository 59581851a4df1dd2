"""Scheduler benchmark: lateness of completions when many deadlines fall close together.

    python bench/scheduler.py --timers 10000 --window 10 --targets sqlite,redis,redis-2
    python bench/scheduler.py --timers 10000 --window 10 --targets cluster,cluster-2

Per target: `castimer serve` processes (pinned to CPU 0; the second of `redis-2` and
`cluster-2` to CPU 1) over a fresh store (`cluster`: a three-master Redis Cluster on loopback,
the tests' fixture, with the timers of 32 accounts, so over every master); this process makes
`timers` running countdowns whose deadlines are spread evenly over `window` seconds a few
seconds ahead, waits, and reads the event log. Lateness is each
completion's commit time minus its deadline (the event's `data.late_ms`); every timer must have
exactly one completion. Then the same round again on the same processes: the server's RSS after
the second round against after the first says whether anything grows without bound.
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
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from bench._machine import free_port, rss_bytes, serve  # noqa: E402
from server import accounts, commit, timers  # noqa: E402
from server.clock import now_ms  # noqa: E402
from server.engines import create_engine  # noqa: E402

DURATION_S = 3600


async def one_round(engine, owners: list[str], count: int, window_s: float) -> dict:
    made = []
    began = time.monotonic()
    for n in range(count):
        made.append(await commit.create(engine, owners[n % len(owners)],
                                        {"type": "countdown", "duration": DURATION_S}))
    took = time.monotonic() - began
    # Deadlines from `first` on, evenly over the window; each timer "started" DURATION_S
    # before its deadline (the start's clock is given, the scheduler's is the real one).
    first = now_ms() + int(took * 2500) + 5000
    step = window_s * 1000 / count
    for n, timer in enumerate(made):
        started = first + round(n * step) - DURATION_S * 1000
        await commit.command(engine, timer.account_id, timer.id, "start",
                             clock=lambda s=started: s)
    assert now_ms() < first, "setup ran past the first deadline; use fewer timers"
    wanted = {t.id for t in made}
    await asyncio.sleep((first - now_ms()) / 1000 + window_s + 3)
    late, completions = [], Counter()
    for owner in owners:
        cursor = None
        while True:
            page, cursor = await engine.list_events(owner, cursor, 500)
            for record in page:
                event = orjson.loads(record.body)
                if event["event"] == timers.COMPLETED and event["timer_id"] in wanted:
                    completions[event["timer_id"]] += 1
                    late.append(event["data"]["late_ms"])
            if cursor is None:
                break
    late.sort()
    return {"timers": count, "completed": len(completions),
            "exactly_once": all(completions[t] == 1 for t in wanted),
            "p50": late[len(late) // 2] if late else None,
            "p99": late[int(len(late) * 0.99)] if late else None,
            "max": late[-1] if late else None}


async def measure(target: str, args: argparse.Namespace, workdir: Path) -> dict:
    redis, cluster = None, None
    if target.startswith("cluster"):
        from tests.servers import RedisCluster

        cluster = RedisCluster(workdir / f"{target}-nodes", durable=False).start()
        url = cluster.url
    elif target.startswith("redis"):
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        url = f"redis://127.0.0.1:{port}/0"
    else:
        url = f"sqlite:///{workdir}/{target}.db"
    servers = [serve(url, 0, workdir)]
    if target in ("redis-2", "cluster-2"):
        servers.append(serve(url, 1, workdir))
    engine = create_engine(url)
    await engine.open()
    try:
        owners = [(await accounts.key_for(engine, f"bench-{n}", "unlimited", now_ms()))[0].id
                  for n in range(32 if cluster else 1)]
        first = await one_round(engine, owners, args.timers, args.window)
        rss_first = rss_bytes(servers[0].pid) // 1024
        second = await one_round(engine, owners, args.timers, args.window)
        rss_second = rss_bytes(servers[0].pid) // 1024
    finally:
        await engine.close()
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                print(f"a server did not stop within 20 s of SIGTERM; its log: {workdir}")
        if redis is not None:
            redis.terminate()
            redis.wait(10)
        if cluster is not None:
            cluster.stop()
    return {"first": first, "second": second, "rss_first": rss_first,
            "rss_second": rss_second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds")
    parser.add_argument("--targets", default="sqlite,redis,redis-2")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    args = parser.parse_args()
    results = {}
    workdir = Path(tempfile.mkdtemp(prefix="castimer-bench-scheduler-"))
    print(f"{args.timers} deadlines within {args.window:g} s; {os.cpu_count()} CPUs")
    print(f"{'target':<9} {'round':<6} {'completed':>10} {'once':>5} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7} {'RSS MiB':>8}")
    for target in args.targets.split(","):
        result = results[target] = asyncio.run(measure(target, args, workdir))
        for name in ("first", "second"):
            r = result[name]
            print(f"{target:<9} {name:<6} {r['completed']:>10} "
                  f"{'yes' if r['exactly_once'] else 'NO':>5} {r['p50']:>7} {r['p99']:>7} "
                  f"{r['max']:>7} {result['rss_' + name] / 1024:>8.1f}")
        growth = result["rss_second"] / result["rss_first"] - 1
        print(f"{target:<9} RSS after the second round vs the first: {growth:+.1%}")
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
