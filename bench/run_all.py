"""Every benchmark with small defaults (about four minutes on two cores), then one table.

    python bench/run_all.py            # small: a quick, comparable look
    python bench/run_all.py --full     # the sizes docs/performance.md reports (~15 minutes)

Each benchmark runs in its own process, one after another (they pin servers and clients to
CPUs and must not share the machine with each other); each writes its figures as JSON, and the
table below puts each next to its baseline from the same run and to its target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

SMALL = {
    "fanout": ["--viewers", "1000", "--timers", "10", "--seconds", "10", "--clients", "1",
               "--targets", "castimer,baseline"],
    "webhooks": ["--rate", "100", "--seconds", "5", "--burst", "3000"],
    "api": ["--seconds", "4"],
    "scheduler": ["--timers", "5000", "--window", "5"],
}
FULL = {
    "fanout": ["--viewers", "10000", "--timers", "10", "--seconds", "60", "--clients", "2",
               "--targets", "castimer,baseline"],
    "webhooks": ["--rate", "100", "--seconds", "10", "--burst", "10000"],
    "api": ["--seconds", "10"],
    "scheduler": ["--timers", "10000", "--window", "10"],
}


def run(name: str, args: list[str], out: Path) -> None:
    command = [sys.executable, str(BENCH / f"{name}.py"), *args]
    if name != "fanout":
        command += ["--json", str(out)]
    print(f"… {' '.join(command[1:])}", flush=True)
    began = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit(f"{name} failed")
    if name == "fanout":  # it prints one JSON line per target
        rows = [json.loads(line) for line in result.stdout.splitlines()
                if line.startswith("{")]
        out.write_text(json.dumps(rows))
    print(f"  done in {time.monotonic() - began:.0f} s", flush=True)


def table(figures: dict[str, object]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    fanout = {r["target"]: r for r in figures["fanout"]}  # type: ignore[union-attr]
    castimer, baseline = fanout["castimer"], fanout["baseline"]
    rows.append(("fan-out: ticks delivered", f"{castimer['delivered_ratio']:.3%}",
                 f"{baseline['delivered_ratio']:.3%} (bare websockets.broadcast)", "≥ 99.9 %"))
    rows.append(("fan-out: tick lateness p99", f"{castimer['lateness_p99_ms']:.1f} ms",
                 f"{baseline['lateness_p99_ms']:.1f} ms", "≤ 50 ms"))
    rows.append(("fan-out: CPU per 1,000 ticks",
                 f"{castimer['cpu_ms_per_1000']:.1f} ms",
                 f"{baseline['cpu_ms_per_1000']:.1f} ms → "
                 f"{castimer['cpu_ms_per_1000'] / baseline['cpu_ms_per_1000']:.2f}x", "≤ 2x"))
    hooks = figures["webhooks"]
    rows.append(("webhooks: completion → receiver p50 / p99",
                 f"{hooks['latency']['p50']:.1f} / {hooks['latency']['p99']:.1f} ms", "",
                 "≤ 20 / ≤ 100 ms"))
    rows.append(("webhooks: deliveries per second, one process",
                 f"{hooks['throughput']['per_second']:.0f}",
                 f"{hooks['floor']:.0f} (bare httpx) → "
                 f"{hooks['throughput']['per_second'] / hooks['floor']:.2f}x", "≥ 500"))
    api = figures["api"]
    targets = {("sqlite", "get"): "≥ 0.5x", ("sqlite", "patch"): "≥ 0.25x",
               ("redis", "get"): "≥ 0.4x", ("redis", "patch"): "≥ 0.2x"}
    for engine in ("sqlite", "redis"):
        if engine not in api:
            continue
        for mode, label in (("get", "GET /timers/{id}"), ("patch", "PATCH …/state")):
            ours, bare = api[engine][mode], api["bare"][mode]
            rows.append((f"API {engine}: {label} req/s (CPU µs/req)",
                         f"{ours['rps']:.0f} ({ours['cpu_us']:.0f})",
                         f"{bare['rps']:.0f} ({bare['cpu_us']:.0f}) (bare Starlette) → "
                         f"{ours['rps'] / bare['rps']:.2f}x", targets[engine, mode]))
    for target, result in figures["scheduler"].items():  # type: ignore[union-attr]
        worst = max((result["first"], result["second"]), key=lambda r: r["p99"] or 0)
        once = result["first"]["exactly_once"] and result["second"]["exactly_once"]
        growth = result["rss_second"] / result["rss_first"] - 1
        rows.append((f"scheduler {target}: lateness p50 / p99 / max",
                     f"{worst['p50']} / {worst['p99']} / {worst['max']} ms",
                     f"exactly once: {'yes' if once else 'NO'}; RSS {growth:+.1%}",
                     "p99 ≤ 10, max ≤ 50 ms; RSS ≤ 20 %"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the sizes of docs/performance.md")
    args = parser.parse_args()
    sizes = FULL if args.full else SMALL
    workdir = Path(tempfile.mkdtemp(prefix="castimer-bench-all-"))
    began = time.monotonic()
    for name, options in sizes.items():
        run(name, options, workdir / f"{name}.json")
    figures = {name: json.loads((workdir / f"{name}.json").read_text()) for name in sizes}
    print(f"\n{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {'full' if args.full else 'small'} sizes, "
          f"{time.monotonic() - began:.0f} s in all\n")
    print(f"| {'figure':<48} | {'Castimer':<20} | {'baseline (same run)':<40} | target |")
    print(f"|{'-' * 50}|{'-' * 22}|{'-' * 42}|---|")
    for figure, ours, base, target in table(figures):
        print(f"| {figure:<48} | {ours:<20} | {base:<40} | {target} |")


if __name__ == "__main__":
    main()
