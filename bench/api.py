"""API benchmark: requests/s and latency of GET /timers/{id} and PATCH /timers/{id}/state,
authenticated and rate-limited (a key on the unlimited plan), against a bare Starlette endpoint.

    python bench/api.py --seconds 10 --connections 32 --engines sqlite,redis

Targets, one after another, each served by uvicorn with the settings of `castimer serve
--log-level warning` (so no access log), pinned to CPU 0: `bare` (bench/bare_starlette.py: the
same routes answering a pre-serialised body, no auth, no store), then `castimer serve` on each
engine. The load comes from another process on CPU 1: wrk (Debian's `wrk`) when it is
installed, else a Python client (slower: its own limit shows in the bare figure, so prefer
wrk). The PATCH load sets 100 timers alternately running and paused, so every request is a real
commit.

Beside req/s each row gives the server process's CPU time per request (user + system, from
/proc), which swings less than req/s when other work shares the machine. `--tree DIR` serves
Castimer from another checkout (a `git archive` of an older commit) for before/after runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._machine import cpu_seconds, free_port, on_cpu, pin, wait_for_port  # noqa: E402
from server import accounts, commit  # noqa: E402
from server.clock import now_ms  # noqa: E402
from server.engines import create_engine  # noqa: E402

TIMERS = 100
WRK_SCRIPT = """
local ids = {%s}
local key = "%s"
local n = 0
request = function()
  n = n + 1
  local id = ids[(n %% #ids) + 1]
  local headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
  if MODE == "get" then
    return wrk.format("GET", "/api/v1/timers/" .. id, headers)
  end
  local state = (math.floor(n / #ids) %% 2 == 0) and "paused" or "running"
  return wrk.format("PATCH", "/api/v1/timers/" .. id .. "/state", headers,
                    '{"state": "' .. state .. '"}')
end
"""


async def prepare(engine_url: str) -> tuple[str, list[str]]:
    """An unlimited key and running timers, made in the store before the server starts."""
    engine = create_engine(engine_url)
    await engine.open()
    try:
        account, key = await accounts.key_for(engine, "bench", "unlimited", now_ms())
        ids = []
        for _ in range(TIMERS):
            timer = await commit.create(engine, account.id, {"type": "countdown",
                                                             "duration": 86_400})
            await commit.command(engine, account.id, timer.id, "start")
            ids.append(timer.id)
        return key, ids
    finally:
        await engine.close()


def load_wrk(port: int, mode: str, key: str, ids: list[str], seconds: int,
             connections: int, workdir: Path) -> dict:
    script = workdir / f"{mode}.lua"
    script.write_text(f'MODE = "{mode}"\n' + WRK_SCRIPT % (
        ", ".join(f'"{i}"' for i in ids), key))
    out = subprocess.run(on_cpu(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                                    "--latency", "-s", str(script),
                                    f"http://127.0.0.1:{port}"]),
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)), "p50": ms("50"),
            "p99": ms("99"), "non_2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


def load_python(port: int, mode: str, key: str, ids: list[str], seconds: int,
                connections: int) -> dict:
    import httpx

    async def run() -> dict:
        latencies: list[float] = []
        bad = 0
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1",
                                     headers=headers) as http:
            stop = time.monotonic() + seconds
            n = 0

            async def worker() -> None:
                nonlocal n, bad
                while time.monotonic() < stop:
                    n += 1
                    timer_id = ids[n % len(ids)]
                    began = time.perf_counter()
                    if mode == "get":
                        answer = await http.get(f"/timers/{timer_id}")
                    else:
                        state = "paused" if (n // len(ids)) % 2 == 0 else "running"
                        answer = await http.patch(f"/timers/{timer_id}/state",
                                                  json={"state": state})
                    latencies.append((time.perf_counter() - began) * 1000)
                    bad += answer.status_code >= 300

            await asyncio.gather(*(worker() for _ in range(connections)))
        latencies.sort()
        return {"rps": len(latencies) / seconds, "requests": len(latencies),
                "p50": latencies[len(latencies) // 2],
                "p99": latencies[int(len(latencies) * 0.99)], "non_2xx": bad,
                "socket_errors": ""}

    pin({1})
    return asyncio.run(run())


def measure(target: str, args: argparse.Namespace, workdir: Path) -> dict[str, dict]:
    port = free_port()
    redis = None
    env = {**os.environ}
    if target == "bare":
        key, ids = "none", [f"tmr_{n}" for n in range(TIMERS)]
        command = [sys.executable, "-c", "import uvicorn; uvicorn.run("
                   "'bench.bare_starlette:app', host='127.0.0.1', port=" + str(port) +
                   ", log_level='warning', proxy_headers=True, access_log=False)"]
    else:
        if target == "redis":
            redis_port = free_port()
            redis = subprocess.Popen(on_cpu(1, ["redis-server", "--port", str(redis_port),
                                                "--bind", "127.0.0.1", "--save", "",
                                                "--appendonly", "no"]),
                                     stdout=subprocess.DEVNULL)
            time.sleep(0.3)
            engine_url = f"redis://127.0.0.1:{redis_port}/0"
        else:
            engine_url = f"sqlite:///{workdir}/{target}.db"
        key, ids = asyncio.run(prepare(engine_url))
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                   "--engine", engine_url, "--log-level", "warning"]
    tree = ROOT if target == "bare" else args.tree
    server = subprocess.Popen(on_cpu(0, command), cwd=tree, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        results = {}
        for mode in ("get", "patch"):
            cpu_before = cpu_seconds(server.pid)
            if shutil.which("wrk"):
                results[mode] = load_wrk(port, mode, key, ids, args.seconds, args.connections,
                                         workdir)
            else:
                results[mode] = load_python(port, mode, key, ids, args.seconds,
                                            args.connections)
            used = cpu_seconds(server.pid) - cpu_before
            results[mode]["cpu_us"] = used * 1e6 / max(1, results[mode]["requests"])
        return results
    finally:
        server.terminate()
        server.wait(10)
        if redis is not None:
            redis.terminate()
            redis.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--engines", default="sqlite,redis")
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="serve Castimer from this checkout (default: this one)")
    parser.add_argument("--json", help="also write the figures to this file (bench/run_all.py)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="castimer-bench-api-"))
    results = {target: measure(target, args, workdir)
               for target in ["bare", *args.engines.split(",")]}
    tool = "wrk" if shutil.which("wrk") else "python client"
    print(f"{os.cpu_count()} CPUs; server on CPU 0, {tool} on CPU 1; {args.connections} "
          f"connections, {args.seconds} s per run")
    print(f"{'target':<8} {'request':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'x bare':>7} {'CPU us/req':>10} {'non-2xx':>8}")
    for target, modes in results.items():
        for mode, figures in modes.items():
            request = "GET /timers/{id}" if mode == "get" else "PATCH /timers/{id}/state"
            ratio = figures["rps"] / results["bare"][mode]["rps"]
            print(f"{target:<8} {request:<28} {figures['rps']:>8.0f} {figures['p50']:>8.2f} "
                  f"{figures['p99']:>8.2f} {ratio:>7.2f} {figures['cpu_us']:>10.1f} "
                  f"{figures['non_2xx']:>8}"
                  + (f"  socket errors: {figures['socket_errors']}"
                     if figures["socket_errors"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
