"""Live widgets in Chromium, driven through the REST API of a real server: they follow every
transition, agree with each other, and tell the host page (and ring) when a timer completes."""

from __future__ import annotations

import datetime as dt
import math
import re
import time
import zoneinfo
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import HostSite, new_key, opened_context
from tests.conftest import sqlite_url
from tests.servers import Server, client


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/timers", json={"type": "countdown", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(api: httpx.Client, timer_id: str, action: str) -> dict[str, Any]:
    response = api.patch(f"/timers/{timer_id}/state", json={"action": action})
    assert response.status_code == 200, response.text
    return dict(response.json())


def shown(remaining_ms: int) -> str:
    minutes, seconds = divmod(math.ceil(remaining_ms / 1000), 60)
    return f"{minutes:02d}:{seconds:02d}"


def open_live(page: Page, site: Server, timer_id: str, query: str = "") -> None:
    page.goto(f"{site.base}/widget?timer={timer_id}{query}")
    expect(page.locator("#timer")).to_have_attribute("data-connection", "live")


def test_a_live_widget_follows_start_pause_resume_and_reset(page: Page, site: Server,
                                                            api: httpx.Client) -> None:
    timer = create(api, duration=120, title="Keynote")
    open_live(page, site, timer["id"])
    time_ = page.locator("#time")
    expect(time_).to_have_text("02:00")
    expect(page.locator("#status")).to_have_text("Ready")
    expect(page.locator("#title")).to_have_text("Keynote")

    act(api, timer["id"], "start")
    expect(time_).to_have_text("01:59", timeout=2500)
    expect(page.locator("#status")).to_be_hidden()

    paused = act(api, timer["id"], "pause")
    expect(page.locator("#status")).to_have_text("Paused")
    expect(time_).to_have_text(shown(paused["remaining_ms"]))
    time.sleep(1.1)  # a paused widget stays put
    expect(time_).to_have_text(shown(paused["remaining_ms"]), timeout=100)

    act(api, timer["id"], "resume")
    expect(page.locator("#status")).to_be_hidden()
    expect(time_).to_have_text(shown(paused["remaining_ms"] - 1000), timeout=2500)

    act(api, timer["id"], "reset")
    expect(time_).to_have_text("02:00")
    expect(page.locator("#status")).to_have_text("Ready")


def _near_a_second_boundary(anchor: dict[str, Any], start_ms: float, end_ms: float) -> bool:
    """Whether, at some instant between start and end, the timer's remaining time was within
    50 ms of a whole second (the server and the test share this machine's clock)."""
    high = anchor["remaining_ms"] - (start_ms - anchor["server_time"]) + 50
    low = anchor["remaining_ms"] - (end_ms - anchor["server_time"]) - 50
    return math.floor(high / 1000) * 1000 >= low


def test_two_live_widgets_show_the_same_time_at_every_instant(browser: Browser, site: Server,
                                                              api: httpx.Client) -> None:
    timer = create(api, duration=600)
    anchor = act(api, timer["id"], "start")
    # Two viewers, each with a window of their own (a page in a background tab of one
    # window would not be drawn at all).
    with opened_context(browser) as first, opened_context(browser) as second:
        # The second viewer's computer clock is 37 s fast: the widget must learn the offset
        # from its pings, or its text would be 37 s off.
        second.add_init_script(SKEWED_CLOCK)
        _compare(site, timer, anchor, [first.new_page(), second.new_page()])


SKEWED_CLOCK = """(() => {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + 37000;
})();"""


def _compare(site: Server, timer: dict[str, Any], anchor: dict[str, Any],
             pages: list[Page]) -> None:
    for page in pages:
        open_live(page, site, timer["id"])
    time.sleep(0.8)  # let both take a few clock samples
    samples = []
    for _ in range(20):
        start = time.time() * 1000
        texts = [page.locator("#time").inner_text() for page in pages]
        end = time.time() * 1000
        samples.append((texts, start, end))
        time.sleep(0.137)  # not a divisor of a second: the samples walk across the phase
    differing = [s for s in samples if s[0][0] != s[0][1]]
    for texts, start, end in differing:
        assert _near_a_second_boundary(anchor, start, end), (texts, samples)
    assert len({s[0][0] for s in samples}) >= 2, samples  # the timer ran meanwhile
    # And what they agree on is the server's time.
    for (texts, start, end) in samples:
        if not _near_a_second_boundary(anchor, start, end):
            assert texts[0] == shown(anchor["remaining_ms"] - round(start - anchor["server_time"]))


HOST_PAGE = """<!doctype html><title>Host</title>
<p>Someone else's page</p>
<iframe id="ringing" src="{base}/widget?timer={id}&alarm=1" allow="autoplay"
        style="width:300px;height:300px;border:none"></iframe>
<iframe id="silent" src="{base}/widget?timer={id}&alarm=0" allow="autoplay"
        style="width:300px;height:300px;border:none"></iframe>
<script>
  window.heard = [];
  addEventListener("message", (event) => {{
    if (event.data && event.data.source === "castimer") {{
      window.heard.push(Object.assign({{from: event.source === frames[0] ? "ringing"
                                                                        : "silent"}},
                                      event.data));
    }}
  }});
</script>"""

# Observes, without changing it, every tone the page's Web Audio really starts.
COUNT_TONES = """
  window.tones = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.tones += 1;
    return start.apply(this, args);
  };
"""


def watch_snapshots(page: Page) -> list[str]:
    """Websocket snapshots the page's widgets receive, seen from outside the page. Looking
    inside a frame would not do before an alarm: Playwright's evaluations count as the user's
    gesture there, and a gesture is exactly what lets a browser play sound."""
    snapshots: list[str] = []

    def opened(socket: Any) -> None:
        socket.on("framereceived", lambda payload: snapshots.append(socket.url)
                  if '"type":"snapshot"' in str(payload) else None)

    page.on("websocket", opened)
    return snapshots


def wait_until(page: Page, condition: Any, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(20)


def test_the_host_page_hears_events_and_the_alarm_rings_only_with_alarm_1(
        browser: Browser, site: Server, api: httpx.Client, host_site: HostSite) -> None:
    timer = create(api, duration=2, title="Sprint")
    url = host_site.put("/host.html", HOST_PAGE.format(base=site.base, id=timer["id"]))
    with opened_context(browser) as context:
        context.add_init_script(COUNT_TONES)
        page = context.new_page()
        snapshots = watch_snapshots(page)
        page.goto(url)
        wait_until(page, lambda: len(snapshots) == 2)
        # Someone interacts with the host page, which delegates autoplay to its widgets
        # (allow="autoplay"), as browsers require before sound plays.
        page.click("p")
        act(api, timer["id"], "start")
        page.wait_for_function("window.heard.filter(m => m.event === 'timer.completed')"
                               ".length === 2", timeout=6000)
        heard = page.evaluate("window.heard")
        for name in ("ringing", "silent"):
            events = [m["event"] for m in heard if m["from"] == name]
            assert events == ["timer.started", "timer.completed"], heard
        completed = next(m for m in heard if m["event"] == "timer.completed")
        assert completed["timer_id"] == timer["id"]
        assert completed["state"] == "completed" and completed["remaining_ms"] == 0

        ringing = page.frame(url=lambda u: "alarm=1" in u)
        silent = page.frame(url=lambda u: "alarm=0" in u)
        assert ringing is not None and silent is not None
        ringing.wait_for_function("document.body.dataset.alarm === 'playing'")
        assert ringing.evaluate("window.tones") == 6
        assert silent.evaluate("[document.body.dataset.alarm, window.tones]") == [None, 0]
        for frame in (ringing, silent):
            assert frame.locator("#status").inner_text() == "Time's up!"


STANDALONE_HOST = """<!doctype html><title>Host</title>
<iframe id="workout" src="{base}/widget?type=interval&work=1&rest=1&rounds=2"></iframe>
<iframe id="past" src="{base}/widget?type=event&target_date=2000-01-01T00:00:00Z&alarm=1">
</iframe>
<script>
  window.heard = [];
  addEventListener("message", (event) => {{
    if (event.data && event.data.source === "castimer") window.heard.push(event.data);
  }});
</script>"""


def test_a_standalone_widget_tells_the_host_page_its_own_events(
        browser: Browser, site: Server, host_site: HostSite) -> None:
    with opened_context(browser) as context:
        context.add_init_script(COUNT_TONES)
        page = context.new_page()
        page.clock.install()  # four seconds of workout without waiting for them
        page.goto(host_site.put("/standalone.html", STANDALONE_HOST.format(base=site.base)))
        workout = page.frame_locator("#workout")
        expect(workout.locator("#round")).to_have_text("Round 1 of 2 · Work")
        page.clock.run_for(4_100)
        expect(workout.locator("#status")).to_have_text("Time's up!")
        page.wait_for_function("window.heard.length >= 5")
        heard = page.evaluate("window.heard")
        assert [(m["event"], m["round"]) for m in heard] == [
            ("timer.started", 1), ("interval.round_end", 2), ("interval.round_end", 2),
            ("interval.completed", 2), ("timer.completed", 2)]
        assert all(m["timer_id"] is None for m in heard)
        # An event already past shows its end but neither announces nor rings anything.
        past = page.frame_locator("#past")
        expect(past.locator("#time")).to_have_text("00:00")
        expect(past.locator("#status")).to_have_text("Time's up!")
        frame = page.frame(url=lambda url: "2000-01-01" in url)
        assert frame is not None
        assert frame.evaluate("[document.body.dataset.alarm, window.tones]") == [None, 0]


def test_a_live_widget_runs_in_a_sandboxed_frame_of_another_site(
        page: Page, api: httpx.Client, host_site: HostSite) -> None:
    """Sites often frame others' pages with sandbox="allow-scripts": the widget's document then
    has an opaque origin, and browsers load its module scripts only if any origin may."""
    timer = act(api, create(api, duration=600)["id"], "start")
    page.goto(host_site.put("/sandboxed.html", f"""<!doctype html><iframe
        sandbox="allow-scripts" src="{timer['urls']['widget']}"></iframe>"""))
    frame = page.frame_locator("iframe")
    expect(frame.locator("#time")).to_have_text(re.compile(r"10:00|09:5\d"))
    expect(frame.locator("#timer")).to_have_attribute("data-connection", "live")


def test_a_live_widget_reconnects_and_resyncs_after_a_server_restart(
        page: Page, tmp_path: Path) -> None:
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        with client(server, new_key(server)) as api:
            timer = create(api, duration=300)
            act(api, timer["id"], "start")
            open_live(page, server, timer["id"])
            server.stop()
            expect(page.locator("#timer")).to_have_attribute("data-connection",
                                                             "reconnecting")
            expect(page.locator("#status")).to_have_text("Reconnecting…")
            server = Server(server.engine_url, tmp_path, port=server.port).start()
            # While the widget waits to retry, the timer changes: the snapshot tells it.
            paused = act(api, timer["id"], "pause")
            expect(page.locator("#timer")).to_have_attribute("data-connection", "live",
                                                             timeout=10_000)
            expect(page.locator("#status")).to_have_text("Paused")
            expect(page.locator("#time")).to_have_text(shown(paused["remaining_ms"]))
    finally:
        server.stop()


def test_live_interval_and_event_timers_show_what_the_server_says(page: Page, site: Server,
                                                                  api: httpx.Client) -> None:
    workout = create(api, type="interval", work=30, rest=15, rounds=4)
    started = act(api, workout["id"], "start")
    open_live(page, site, workout["id"], "&lang=es")
    expect(page.locator("#round")).to_have_text("Ronda 1 de 4 · Trabajo")
    assert started["round"] == 1 and started["phase"] == "work"
    expect(page.locator("#time")).to_have_text(re.compile(r"^00:(30|29|28)$"))

    target = dt.datetime.now(dt.UTC) + dt.timedelta(days=3, hours=4, minutes=30)
    launch = create(api, type="event", target_date=target.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    timezone="Asia/Tokyo", title="Launch")
    open_live(page, site, launch["id"])
    expect(page.locator("#days")).to_have_text("3 days")
    expect(page.locator("#time")).to_have_text(re.compile(r"^04:(30|29):\d\d$"))
    local = target.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    expect(page.locator("#date")).to_contain_text(f"{local:%B} {local.day}, {local.year}")


def test_an_alarm_the_browser_holds_back_plays_once_at_the_first_tap(
        browser: Browser, site: Server, api: httpx.Client, host_site: HostSite) -> None:
    timer = create(api, duration=1)
    url = host_site.put("/untouched.html", f"""<!doctype html>
        <iframe src="{site.base}/widget?timer={timer['id']}"></iframe>
        <script>
          window.heard = [];
          addEventListener("message", (event) => window.heard.push(event.data.event));
        </script>""")
    with opened_context(browser) as context:
        context.add_init_script(COUNT_TONES)
        page = context.new_page()
        snapshots = watch_snapshots(page)
        page.goto(url)  # nobody interacts with this page: no sound allowed yet
        wait_until(page, lambda: len(snapshots) == 1)
        act(api, timer["id"], "start")
        page.wait_for_function("window.heard.includes('timer.completed')")
        frame = page.frame(url=lambda u: "/widget?" in u)
        assert frame is not None
        assert frame.evaluate("[document.body.dataset.alarm, window.tones]") == ["blocked", 0]
        page.frame_locator("iframe").locator("#time").click()
        expect(page.frame_locator("iframe").locator("body")).to_have_attribute(
            "data-alarm", "playing")
        assert frame.evaluate("window.tones") == 6
