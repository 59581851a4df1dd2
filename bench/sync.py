"""Time truth: how closely real Chromium viewers of one live timer agree, and how close they are
to the true second boundaries.

    .venv/bin/python bench/sync.py --viewers 4 --seconds 60

Starts `castimer serve` (SQLite, pinned to CPU 0 where there are several), creates a countdown
and starts it, and opens the viewers in headless Chromium, each in a window of its own (a
background tab is not drawn): widgets and stage displays in turn. The second viewer's clock is
--skew seconds fast (Date.now overridden before the page runs, as a computer whose clock is
wrong), the fourth's as much slow; the pages learn the server's clock from their pings.

In each page a MutationObserver timestamps every change of the shown time, in true time:
performance.timeOrigin + performance.now(), which the skew does not touch, corrected by the
page's own measured difference to the real clock. The change is recorded in the animation
frame that makes it, before that frame is painted; painting follows within the frame.

The true boundary of each shown second comes from the server's committed state (GET
/timers/{id}: remaining_ms at server_time; the server and the browsers share this machine's
clock): the text shows ceil(remaining) seconds, so it should change to k seconds at
server_time + remaining_ms - k·1000. Printed: for each boundary the spread between viewers
(latest minus earliest change) and each change's offset from the boundary, p50/p99/max.
Targets (a benchmark, not a test): spread p99 ≤ 20 ms, offset p99 ≤ 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._machine import SEVERAL_CPUS, pin, port_of, serve  # noqa: E402
from server import accounts  # noqa: E402
from server.clock import now_ms  # noqa: E402
from server.engines import create_engine  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

# Runs before the page's own scripts: keeps the real clock for the measurement, then skews the
# clock the page sees (Date.now, which castimer.js reads) by SKEW ms.
CLOCK = """(() => {
  const realNow = Date.now.bind(Date);
  window.__realNow = realNow;
  Date.now = () => realNow() + SKEW;
})();"""

# Installed once the page is live: every change of #time, in true time.
RECORD = """() => {
  // performance.timeOrigin may sit a few ms off the wall clock: measure it against the real
  // Date.now (ms resolution), keeping the largest difference of many samples (each sample
  // is late by less than a ms, never early).
  let correction = -Infinity;
  for (let i = 0; i < 200; i++) {
    const before = performance.timeOrigin + performance.now();
    correction = Math.max(correction, window.__realNow() - before);
  }
  window.__changes = [];
  const time = document.querySelector('#time');
  new MutationObserver(() => window.__changes.push(
      [time.textContent, performance.timeOrigin + performance.now() + correction]))
    .observe(time, { childList: true, characterData: true, subtree: true });
  return correction;
}"""


def seconds_of(text: str) -> int:
    """"09:59" → 599; "1:00:00" → 3600."""
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]

    return f"p50 {at(0.5):6.1f}  p99 {at(0.99):6.1f}  max {ordered[-1]:6.1f}  (n={len(ordered)})"


async def make_key(engine_url: str) -> str:
    engine = create_engine(engine_url)
    await engine.open()
    try:
        _, key = await accounts.key_for(engine, "bench-sync", "unlimited", now_ms())
    finally:
        await engine.close()
    return key


def viewers_of(count: int, skew_s: float) -> list[tuple[str, int]]:
    """(surface, clock skew in ms) of each viewer: widgets and stage displays in turn."""
    skews = {1: round(skew_s * 1000), 3: -round(skew_s * 1000)}
    return [("widget" if n % 2 == 0 else "stage", skews.get(n, 0)) for n in range(count)]


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    engine_url = f"sqlite:///{workdir}/sync.db"
    server = serve(engine_url, 0, workdir)
    if SEVERAL_CPUS:
        pin(set(os.sched_getaffinity(0)) - {0} or {0})  # Chromium inherits this
    try:
        base = f"http://127.0.0.1:{port_of(server)}"
        key = asyncio.run(make_key(engine_url))
        api = httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {key}"})
        created = api.post("/timers", json={"type": "countdown", "duration": args.seconds + 30})
        timer_id = created.json()["id"]
        viewers = viewers_of(args.viewers, args.skew)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            pages = []
            for surface, skew in viewers:
                context = browser.new_context(viewport={"width": 640, "height": 360})
                context.add_init_script(CLOCK.replace("SKEW", str(skew)))
                page = context.new_page()
                url = (f"{base}/widget?timer={timer_id}" if surface == "widget"
                       else f"{base}/stage/{timer_id}")
                page.goto(url)
                page.wait_for_selector("[data-connection=live]")
                pages.append(page)
            assert api.patch(f"/timers/{timer_id}/state",
                             json={"action": "start"}).status_code == 200
            time.sleep(1.5)  # the pages take their first clock samples
            corrections = [page.evaluate(RECORD) for page in pages]
            time.sleep(args.seconds)
            changes = [page.evaluate("window.__changes") for page in pages]
            browser.close()
        committed = api.get(f"/timers/{timer_id}").json()
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    # When the text should turn to k seconds, by the server's committed state.
    zero = committed["server_time"] + committed["remaining_ms"]
    by_second: dict[int, list[float]] = {}
    offsets: list[list[float]] = [[] for _ in pages]
    for n, seen in enumerate(changes):
        for text, at in seen:
            k = seconds_of(text)
            offsets[n].append(at - (zero - k * 1000))
            by_second.setdefault(k, []).append(at)
    spreads = [max(ats) - min(ats) for ats in by_second.values() if len(ats) == len(pages)]
    # Each boundary: the second shown from then on, and each viewer's change, from the boundary.
    table = [(k, [round(at - (zero - k * 1000), 1) for at in ats])
             for k, ats in sorted(by_second.items(), reverse=True)]
    return {"viewers": viewers, "corrections": corrections, "offsets": offsets,
            "spreads": spreads, "boundaries": len(by_second), "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=4, help="at least 4")
    parser.add_argument("--seconds", type=int, default=60, help="how long to watch")
    parser.add_argument("--skew", type=float, default=37.0,
                        help="seconds the 2nd viewer's clock is fast (and the 4th's slow)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.viewers < 4:
        parser.error("--viewers must be at least 4")
    workdir = Path(tempfile.mkdtemp(prefix="castimer-bench-sync-"))
    print(f"{args.viewers} Chromium viewers of one live timer for {args.seconds} s; "
          f"{os.cpu_count()} CPUs")
    result = measure(args, workdir)
    print("shown   spread ms   each viewer's change after the true boundary, ms")
    for k, late in result["table"]:
        spread = max(late) - min(late)
        print(f"{k:>5} {spread:>10.1f}   " + " ".join(f"{ms:>7.1f}" for ms in late))
    print(f"second boundaries seen: {result['boundaries']}; "
          f"seen by every viewer: {len(result['spreads'])}")
    print(f"spread between viewers, ms:   {percentiles(result['spreads'])}")
    every = [o for offsets in result["offsets"] for o in offsets]
    print(f"offset from the boundary, ms: {percentiles(every)}")
    for (surface, skew), offsets, correction in zip(result["viewers"], result["offsets"],
                                                    result["corrections"], strict=True):
        label = f"{surface} (clock {skew / 1000:+.0f} s)"
        print(f"  {label:<24} {percentiles(offsets)}  [timeOrigin correction "
              f"{correction:+.1f} ms]")
    if args.json:
        Path(args.json).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
