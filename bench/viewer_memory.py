"""What one idle viewer socket costs the server's memory, and what makes it up.

    python bench/viewer_memory.py --viewers 2000
    python bench/viewer_memory.py --viewers 2000 --trace

Starts `castimer serve` (SQLite, in a process of its own, its own uvicorn arguments), makes one
running timer, connects a few viewers to warm up, then notes the server's RSS and connects
`--viewers` more (the lean clients of bench/fanout.py) and notes it again. With `--trace` the
server runs under tracemalloc and the difference between the two snapshots is printed per
connection, grouped by the line that allocated it and by file (docs/performance.md, "RSS per
viewer connection"); tracing slows the server and inflates its RSS, so the RSS figure is the
untraced run's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._machine import bench_key, free_port, rss_bytes  # noqa: E402
from bench.fanout import raise_fd_limit, wait_port  # noqa: E402


def serve_traced(snapshots: str, argv: list[str]) -> None:
    """`castimer serve` in this process; each SIGUSR1 writes a tracemalloc snapshot."""
    import gc
    import tracemalloc

    taken = [0]

    def snapshot(*_: object) -> None:
        gc.collect()
        taken[0] += 1
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(f"{snapshots}.{taken[0]}")
        Path(f"{snapshots}.{taken[0]}.done").touch()

    signal.signal(signal.SIGUSR1, snapshot)
    from server import cli

    sys.exit(cli.main(argv))


def report(snapshots: str, viewers: int, top: int) -> None:
    import linecache
    import tracemalloc

    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before = tracemalloc.Snapshot.load(f"{snapshots}.1").filter_traces(ignore)
    after = tracemalloc.Snapshot.load(f"{snapshots}.2").filter_traces(ignore)
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"\ntraced: {total / 1024 / viewers:.2f} KB per connection")
    for key in ("filename", "lineno"):
        print(f"\nby {key} (bytes per connection):")
        for stat in after.compare_to(before, key)[:top]:
            frame = stat.traceback[0]
            where = frame.filename.split("site-packages/")[-1]
            line = linecache.getline(frame.filename, frame.lineno).strip()[:70]
            print(f"{stat.size_diff / viewers:8.0f}  {where}" +
                  (f":{frame.lineno}  {line}" if key == "lineno" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--trace", action="store_true", help="tracemalloc the server")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        url, port, snapshots = f"sqlite:///{tmp}/memory.db", free_port(), f"{tmp}/snapshot"
        # The lean clients answer no pings: keepalive every hour (its timer still exists).
        env = {**os.environ, "CASTIMER_WS_MAX_CONNECTIONS_PER_IP": "1000000",
               "CASTIMER_WS_PING_INTERVAL": "3600", "CASTIMER_WS_PING_TIMEOUT": "3600",
               "CASTIMER_SECRET_KEY": "bench-" + "k" * 40}
        if args.trace:
            env["PYTHONTRACEMALLOC"] = "25"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve-traced", snapshots, "serve", "--port",
             str(port), "--engine", url, "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
        try:
            wait_port(port)
            timer_id = make_timer(url, port)

            def connect(count: int, hold: float) -> subprocess.Popen[bytes]:
                start = time.time() + 1
                return subprocess.Popen([sys.executable, str(ROOT / "bench" / "fanout.py"),
                                         "--client", str(port), timer_id, str(count),
                                         str(start), str(start + hold), os.devnull])

            warm = connect(50, 2)
            warm.wait()
            rss_before = take(server, snapshots, 1)
            slow = 3 if args.trace else 1  # traced, the server accepts viewers ~3 times slower
            clients = connect(args.viewers, 20 * slow + args.viewers / 100 * slow)
            time.sleep(10 * slow + args.viewers / 200 * slow)
            rss_after = take(server, snapshots, 2)
            print(f"RSS per connection: {(rss_after - rss_before) / 1024 / args.viewers:.1f} KB"
                  f"{' (traced: inflated by tracemalloc)' if args.trace else ''}")
            if args.trace:
                report(snapshots, args.viewers, args.top)
            clients.wait()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(20)


def take(server: subprocess.Popen[bytes], snapshots: str, n: int) -> int:
    server.send_signal(signal.SIGUSR1)
    while not Path(f"{snapshots}.{n}.done").exists():
        time.sleep(0.1)
    return rss_bytes(server.pid)


def make_timer(url: str, port: int) -> str:
    import httpx

    key = bench_key(url)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1",
                      headers={"Authorization": f"Bearer {key}"}) as api:
        timer = api.post("/timers", json={"title": "Memory", "type": "countdown",
                                          "duration": 3600}).json()
        api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
    return str(timer["id"])


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-traced":
        serve_traced(sys.argv[2], sys.argv[3:])
    else:
        main()
