"""A rundown's viewers in Chromium: `/widget?rundown=rnd_…` and `/stage/rnd_…` follow the show's
current timer, advanced over the REST API of a real server, without reloading: the next timer's
socket is open before the advance, so the first frame after the rundown's news already shows
it. A show on no timer waits calmly, a deleted rundown says so, an unknown one is an error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from server import i18n
from tests.browser.conftest import HostSite, new_key, opened_context
from tests.browser.test_live import create, wait_until
from tests.conftest import sqlite_url
from tests.servers import Server, client

# Each message of a rundown socket, and what the page drew at the first animation frame after
# it: the page's own frame callback was asked for before the message came, so it runs first in
# that frame. Loads of the page are counted, to tell a swap from a reload.
WATCH_RUNDOWN = """
window.drawn = [];
window.loads = Number(sessionStorage.getItem("loads") || 0) + 1;
sessionStorage.setItem("loads", String(window.loads));
const Native = WebSocket;
window.WebSocket = class extends Native {
  constructor(url, ...rest) {
    super(url, ...rest);
    if (!String(url).includes("/ws/rundowns/")) return;
    this.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const current = message.rundown ? message.rundown.current : null;
      requestAnimationFrame(() => window.drawn.push({
        current, title: document.querySelector("#title").textContent,
        time: document.querySelector("#time").textContent,
        rundown: document.querySelector("#rundown").textContent}));
    });
  }
};
"""


def rundown(api: httpx.Client, timer_ids: list[str], **fields: Any) -> dict[str, Any]:
    response = api.post("/rundowns", json={"timers": timer_ids, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def advance(api: httpx.Client, rundown_id: str, to: str) -> dict[str, Any]:
    response = api.post(f"/rundowns/{rundown_id}/advance", json={"to": to})
    assert response.status_code == 200, response.text
    return dict(response.json())


class TimerSockets:
    """The page's timer sockets, seen from outside it: which timers' snapshots have arrived,
    which sockets were opened and closed."""

    def __init__(self, page: Page) -> None:
        self.opened: list[str] = []
        self.snapshots: list[str] = []
        self.closed: list[str] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: Any) -> None:
        found = re.search(r"/ws/timers/(tmr_\w+)", socket.url)
        if not found:
            return
        timer_id = found[1]
        self.opened.append(timer_id)
        socket.on("framereceived", lambda payload: self.snapshots.append(timer_id)
                  if '"type":"snapshot"' in str(payload) else None)
        socket.on("close", lambda _: self.closed.append(timer_id))


def show_of_three(api: httpx.Client, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    ids = [create(api, duration=seconds, title=title)["id"]
           for seconds, title in ((600, "Opening"), (300, "Keynote"), (120, "Questions"))]
    return rundown(api, ids, title="Morning show", **fields), ids


def check_follows_an_advance(page: Page, api: httpx.Client, url: str) -> None:
    """The page at `url` follows the show of three from its first timer to its second."""
    show, ids = show_of_three(api)
    sockets = TimerSockets(page)
    page.add_init_script(WATCH_RUNDOWN)
    page.goto(url.format(id=show["id"]))
    expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "live")
    expect(page.locator("#title")).to_have_text("Opening")
    expect(page.locator("#rundown")).to_have_text("Morning show · 1 of 3")
    expect(page.locator("#time")).to_have_text("10:00")
    # The next timer's state is on the page before the show gets there; the one after is not
    # followed yet.
    wait_until(page, lambda: ids[1] in sockets.snapshots)
    assert sorted(sockets.opened) == sorted(ids[:2])
    page.evaluate("window.kept = 'the same page'")

    advance(api, show["id"], "next")
    expect(page.locator("#title")).to_have_text("Keynote", timeout=1000)
    drawn = page.evaluate("window.drawn")
    moved = next(frame for frame in drawn if frame["current"] == ids[1])
    assert moved["title"] == "Keynote" and moved["rundown"] == "Morning show · 2 of 3", drawn
    assert moved["time"] in ("05:00", "04:59"), drawn
    expect(page.locator("#time")).to_have_text(re.compile(r"04:5\d"), timeout=2500)
    expect(page.locator("#status")).to_be_hidden()
    assert page.evaluate("[window.kept, window.loads]") == ["the same page", 1]
    # Now the second timer and the third are followed, and the first no longer.
    wait_until(page, lambda: ids[0] in sockets.closed and ids[2] in sockets.snapshots)
    assert sockets.opened.count(ids[1]) == 1


def test_a_rundown_widget_swaps_to_the_next_timer_in_the_frame_the_advance_arrives(
        page: Page, site: Server, api: httpx.Client) -> None:
    check_follows_an_advance(page, api, site.base + "/widget?rundown={id}&theme=light")
    expect(page.locator("html")).to_have_class("theme-light")


def test_the_stage_display_of_a_rundown_follows_it_the_same_way(
        page: Page, site: Server, api: httpx.Client) -> None:
    check_follows_an_advance(page, api, site.base + "/stage/{id}?clock=1")
    expect(page.locator("#clock")).to_be_visible()


def test_with_auto_advance_a_widget_follows_a_show_of_one_second_timers_to_its_end(
        page: Page, site: Server, api: httpx.Client) -> None:
    ids = [create(api, duration=1, title=f"Part {n}")["id"] for n in (1, 2, 3)]
    show = rundown(api, ids, title="Sprints", auto_advance=True)
    sockets = TimerSockets(page)
    page.add_init_script(WATCH_RUNDOWN)
    page.goto(f"{site.base}/widget?rundown={show['id']}&lang=de")
    expect(page.locator("#timer")).to_have_attribute("data-connection", "live")
    expect(page.locator("#rundown")).to_have_text("Sprints · 1 von 3")
    wait_until(page, lambda: ids[1] in sockets.snapshots)
    advance(api, show["id"], ids[0])  # the show's own first timer: starts it
    expect(page.locator("#rundown")).to_have_text("Sprints · 3 von 3", timeout=5000)
    expect(page.locator("#title")).to_have_text("Part 3")
    expect(page.locator("#status")).to_have_text(i18n.text("de", "widget.completed"),
                                                 timeout=3000)
    expect(page.locator("#timer")).to_have_attribute("data-state", "completed")
    drawn = page.evaluate("window.drawn")
    assert [frame["title"] for frame in drawn if frame["current"] in ids[1:]][:1] == ["Part 2"]
    assert {frame["current"]: frame["title"] for frame in drawn} == {
        ids[0]: "Part 1", ids[1]: "Part 2", ids[2]: "Part 3"}
    assert page.evaluate("window.loads") == 1


def test_a_show_on_no_timer_waits_calmly_then_follows_again(page: Page, site: Server,
                                                            api: httpx.Client) -> None:
    show, ids = show_of_three(api)
    page.goto(f"{site.base}/widget?rundown={show['id']}&lang=ja")
    expect(page.locator("#title")).to_have_text("Opening")
    # The show's last timer, current, taken out of it leaves the show on none (a current timer
    # with others after it would leave it on the next one).
    advance(api, show["id"], ids[2])
    expect(page.locator("#title")).to_have_text("Questions")
    edited = api.patch(f"/rundowns/{show['id']}", json={"timers": ids[:2]})
    assert edited.status_code == 200 and edited.json()["current"] is None, edited.text
    expect(page.locator("#status")).to_have_text(i18n.text("ja", "show.waiting"))
    expect(page.locator("#timer")).to_have_attribute("data-show", "waiting")
    expect(page.locator("#title")).to_have_text("Morning show")
    expect(page.locator("#time")).to_be_hidden()
    expect(page.locator("#rundown")).to_be_hidden()
    advance(api, show["id"], ids[1])  # a jump: that timer's socket opens only now
    expect(page.locator("#title")).to_have_text("Keynote")
    position = i18n.text("ja", "show.position", position=2, count=2)
    expect(page.locator("#rundown")).to_have_text(f"Morning show · {position}")
    expect(page.locator("#time")).to_have_text(re.compile(r"0[45]:\d\d"))  # 300 s, started
    expect(page.locator("#timer")).to_have_attribute("data-show", "on")


def test_a_rundown_widget_loaded_while_the_show_is_on_no_timer_waits(
        page: Page, site: Server, api: httpx.Client) -> None:
    show, ids = show_of_three(api)
    advance(api, show["id"], ids[2])
    edited = api.patch(f"/rundowns/{show['id']}", json={"timers": ids[:2]})
    assert edited.json()["current"] is None  # its current, last timer left the show
    page.goto(f"{site.base}/stage/{show['id']}")
    expect(page.locator("#stage")).to_have_attribute("data-connection", "live")
    expect(page.locator("#status")).to_have_text("Waiting for the next timer")
    expect(page.locator("#title")).to_have_text("Morning show")
    expect(page.locator("#digits")).to_be_hidden()
    advance(api, show["id"], "next")
    expect(page.locator("#title")).to_have_text("Opening")
    expect(page.locator("#rundown")).to_have_text("Morning show · 1 of 2")


RUNDOWN_HOST = """<!doctype html><title>Host</title>
<iframe src="{base}/widget?rundown={id}" style="width:300px;height:300px;border:none"></iframe>
<script>
  window.heard = [];
  addEventListener("message", (event) => {{
    if (event.data && event.data.source === "castimer") window.heard.push(event.data);
  }});
</script>"""


def test_the_host_page_hears_the_events_of_the_timer_the_show_is_on(
        page: Page, site: Server, api: httpx.Client, host_site: HostSite) -> None:
    show, ids = show_of_three(api)
    page.goto(host_site.put("/rundown-host.html",
                            RUNDOWN_HOST.format(base=site.base, id=show["id"])))
    frame = page.frame_locator("iframe")
    expect(frame.locator("#title")).to_have_text("Opening")
    assert api.patch(f"/timers/{ids[0]}/state", json={"action": "start"}).status_code == 200
    page.wait_for_function("window.heard.some(m => m.event === 'timer.started')")
    advance(api, show["id"], "next")
    expect(frame.locator("#title")).to_have_text("Keynote")
    assert api.patch(f"/timers/{ids[1]}/state", json={"action": "pause"}).status_code == 200
    page.wait_for_function("window.heard.some(m => m.event === 'timer.paused')")
    heard = page.evaluate("window.heard")
    started = next(m for m in heard if m["event"] == "timer.started")
    paused = next(m for m in heard if m["event"] == "timer.paused")
    assert (started["timer_id"], paused["timer_id"]) == (ids[0], ids[1]), heard
    assert paused["state"] == "paused"


def test_a_rundown_widget_reconnects_after_a_server_restart_and_finds_the_show_moved_on(
        page: Page, tmp_path: Path) -> None:
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        with client(server, new_key(server)) as api:
            show, ids = show_of_three(api)
            page.goto(f"{server.base}/widget?rundown={show['id']}")
            expect(page.locator("#timer")).to_have_attribute("data-connection", "live")
            expect(page.locator("#title")).to_have_text("Opening")
            server.stop()
            expect(page.locator("#timer")).to_have_attribute("data-connection",
                                                             "reconnecting")
            expect(page.locator("#status")).to_have_text("Reconnecting…")
            server = Server(server.engine_url, tmp_path, port=server.port).start()
            # While the page waits to retry, the show moves on: the rundown's first message
            # on the new connection tells it.
            advance(api, show["id"], ids[2])
            expect(page.locator("#title")).to_have_text("Questions", timeout=10_000)
            expect(page.locator("#rundown")).to_have_text("Morning show · 3 of 3")
            expect(page.locator("#timer")).to_have_attribute("data-connection", "live",
                                                             timeout=10_000)
            expect(page.locator("#status")).to_be_hidden()
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/widget?rundown={id}&lang=fr", "/stage/{id}?lang=fr"])
def test_deleting_the_rundown_shows_that_it_was_deleted(page: Page, site: Server,
                                                       api: httpx.Client, path: str) -> None:
    show, ids = show_of_three(api)
    sockets = TimerSockets(page)
    page.goto(site.base + path.format(id=show["id"]))
    expect(page.locator("#title")).to_have_text("Opening")
    wait_until(page, lambda: len(sockets.snapshots) == 2)
    assert api.delete(f"/rundowns/{show['id']}").status_code == 204
    expect(page.locator("#status")).to_have_text(i18n.text("fr", "show.deleted"))
    expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "deleted")
    expect(page.locator("#time")).to_be_hidden()
    expect(page.locator("#title")).to_have_text("Morning show")
    # Its timers stay, and the page follows none of them any more.
    assert api.get(f"/timers/{ids[0]}").status_code == 200
    wait_until(page, lambda: sorted(sockets.closed) == sorted(ids[:2]))


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/widget?rundown=rnd_doesnotexist&lang=es", 404,
     i18n.text("es", "error.rundown_not_found", value="rnd_doesnotexist")),
    ("/stage/rnd_doesnotexist", 404,
     i18n.text("en", "error.rundown_not_found", value="rnd_doesnotexist")),
    ("/widget?rundown=show-1", 400,
     i18n.text("en", "error.rundown_id", param="rundown", value="show-1")),
    ("/stage/rnd_!?lang=ko", 400, i18n.text("ko", "error.rundown_id", param="rundown_id",
                                           value="rnd_!")),
])
def test_a_rundown_that_cannot_be_shown_shows_the_error_state(page: Page, site: Server,
                                                             path: str, status: int,
                                                             words: str) -> None:
    response = page.goto(site.base + path)
    assert response is not None and response.status == status
    expect(page.locator(".problem p")).to_have_text(words)
    expect(page.locator("#time")).to_have_count(0)


def test_nothing_of_a_rundown_screen_leaves_a_phone_or_a_desktop_window(
        browser: Browser, site: Server, api: httpx.Client) -> None:
    show, _ = show_of_three(api)
    advance(api, show["id"], "next")
    for width, height in ((390, 844), (1280, 800)):
        with opened_context(browser, viewport={"width": width, "height": height}) as context:
            page = context.new_page()
            for name, path in (("widget", "/widget?rundown={id}&lang=ja"),
                               ("stage", "/stage/{id}")):
                page.goto(site.base + path.format(id=show["id"]))
                expect(page.locator("#title")).to_have_text("Keynote")
                expect(page.locator("#rundown")).to_be_visible()
                outside = page.evaluate("""() => [...document.querySelectorAll('main *')]
                  .filter((node) => { const box = node.getBoundingClientRect();
                    return box.width && (box.left < -0.5 || box.right > innerWidth + 0.5
                      || box.top < -0.5 || box.bottom > innerHeight + 0.5); })
                  .map((node) => node.id || node.tagName)""")
                assert outside == [], (name, width, outside)
