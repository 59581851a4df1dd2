"""The live room on the viewers' screens, widget and stage display alike, driven through the
REST API of a real server: level colours at the thresholds, overtime, messages (as text),
blackout, completion and deletion that look like what they are, and the host page's events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import HostSite, opened_context
from tests.browser.pixels import Image
from tests.browser.test_live import act, create, open_live
from tests.browser.test_stage import open_stage
from tests.servers import Server

SURFACES = ["widget", "stage"]
# The colours of widget.css and stage.css (dark theme), as getComputedStyle words them.
AMBER, RED = "rgb(245, 165, 36)", "rgb(240, 72, 72)"
MINUS = "\N{MINUS SIGN}"  # what the digits show in overtime: not a hyphen


def open_surface(page: Page, site: Server, surface: str, timer_id: str) -> None:
    if surface == "widget":
        open_live(page, site, timer_id)
    else:
        open_stage(page, site, timer_id)


def root(page: Page, surface: str) -> Any:
    return page.locator("#timer" if surface == "widget" else "#stage")


# When, in true time (this machine's clock, which the server shares), data-level changed.
RECORD_LEVELS = """(selector) => {
  window.levels = [];
  const node = document.querySelector(selector);
  new MutationObserver(() => window.levels.push(
      [node.dataset.level, performance.timeOrigin + performance.now(),
       getComputedStyle(document.querySelector('#time')).color]))
    .observe(node, { attributes: true, attributeFilter: ['data-level'] });
}"""


@pytest.mark.parametrize("surface", SURFACES)
def test_level_colours_change_at_the_thresholds(page: Page, site: Server, api: httpx.Client,
                                                surface: str) -> None:
    timer = create(api, duration=4, warn_at=3, danger_at=1)
    open_surface(page, site, surface, timer["id"])
    expect(root(page, surface)).to_have_attribute("data-level", "normal")
    page.evaluate(RECORD_LEVELS, "#timer" if surface == "widget" else "#stage")
    started = act(api, timer["id"], "start")
    page.wait_for_function("() => window.levels.some(([level]) => level === 'danger')",
                           timeout=6000)
    levels = page.evaluate("window.levels")
    assert [level for level, _, _ in levels][:2] == ["warning", "danger"], levels
    zero = started["server_time"] + started["remaining_ms"]
    for (_, at, colour), threshold, expected in zip(levels, (3000, 1000), (AMBER, RED),
                                                    strict=False):
        # Within two frames of the instant the remaining time reached the threshold.
        assert abs(at - (zero - threshold)) < 60, (levels, zero)
        assert colour == expected


@pytest.mark.parametrize("surface", SURFACES)
def test_overtime_counts_up_in_red_behind_a_minus_sign_until_stopped(
        page: Page, site: Server, api: httpx.Client, surface: str) -> None:
    timer = create(api, duration=1, overtime=True)
    open_surface(page, site, surface, timer["id"])
    act(api, timer["id"], "start")
    time_ = page.locator("#time")
    expect(time_).to_have_text(f"{MINUS}00:01", timeout=3000)
    expect(time_).to_have_text(f"{MINUS}00:02", timeout=1500)
    expect(root(page, surface)).to_have_attribute("data-level", "overtime")
    expect(page.locator("#status")).to_have_text("Overtime")
    assert time_.evaluate("node => getComputedStyle(node).color") == RED
    act(api, timer["id"], "stop")
    expect(page.locator("#status")).to_have_text("Time's up!")
    expect(time_).to_have_text("00:00")


MARKUP = "<script>window.ran = 1</script><b>Wrap up</b> & go"


@pytest.mark.parametrize("surface", SURFACES)
def test_a_message_set_through_the_api_appears_as_text_and_a_flash_blinks(
        page: Page, site: Server, api: httpx.Client, surface: str) -> None:
    timer = act(api, create(api, duration=300)["id"], "start")
    open_surface(page, site, surface, timer["id"])
    message = page.locator("#message")
    expect(message).to_be_hidden()
    put = api.put(f"/timers/{timer['id']}/message", json={"text": MARKUP, "flash": False})
    assert put.status_code == 200, put.text
    expect(message).to_have_text(MARKUP)
    assert message.evaluate("node => node.children.length") == 0  # text, not markup
    assert page.evaluate("window.ran") is None
    assert message.evaluate("node => getComputedStyle(node).animationName") == "none"
    api.put(f"/timers/{timer['id']}/message", json={"text": "Questions now", "flash": True})
    expect(message).to_have_text("Questions now")
    assert message.evaluate("node => getComputedStyle(node).animationName") == "blink"
    assert message.evaluate("node => getComputedStyle(node).animationIterationCount") == (
        "infinite")
    assert api.delete(f"/timers/{timer['id']}/message").status_code == 200
    expect(message).to_be_hidden()


def _colours(page: Page) -> set[tuple[int, ...]]:
    page.wait_for_timeout(100)  # a frame after the change
    return Image(page.screenshot(animations="disabled")).colours()


@pytest.mark.parametrize("surface", SURFACES)
def test_blackout_shows_only_black(browser: Browser, site: Server, api: httpx.Client,
                                   surface: str) -> None:
    timer = act(api, create(api, duration=300, title="Keynote")["id"], "start")
    api.put(f"/timers/{timer['id']}/message", json={"text": "Wrap up", "flash": True})
    with opened_context(browser, viewport={"width": 320, "height": 180}) as context:
        page = context.new_page()
        open_surface(page, site, surface, timer["id"])
        assert len(_colours(page)) > 2
        assert api.patch(f"/timers/{timer['id']}", json={"blackout": True}).status_code == 200
        expect(page.locator("body")).to_have_attribute("data-blackout", "")
        assert _colours(page) == {(0, 0, 0, 255)}
        api.patch(f"/timers/{timer['id']}", json={"blackout": False})
        expect(page.locator("body")).not_to_have_attribute("data-blackout", "")
        assert len(_colours(page)) > 2


@pytest.mark.parametrize("surface", SURFACES)
def test_completion_is_said_big_and_a_deleted_timer_stops_looking_alive(
        browser: Browser, site: Server, api: httpx.Client, surface: str) -> None:
    done = create(api, duration=1)
    running = act(api, create(api, duration=600)["id"], "start")
    with opened_context(browser, viewport={"width": 640, "height": 360}) as context:
        page = context.new_page()
        open_surface(page, site, surface, done["id"])
        act(api, done["id"], "start")
        status = page.locator("#status")
        expect(status).to_have_text("Time's up!", timeout=3000)
        box = status.bounding_box()
        assert box is not None and box["height"] >= 0.08 * 360, box  # not a small line
        assert status.evaluate("node => getComputedStyle(node).backgroundColor") == RED

        open_surface(page, site, surface, running["id"])
        expect(page.locator("#time")).to_be_visible()
        assert api.delete(f"/timers/{running['id']}").status_code == 204
        expect(root(page, surface)).to_have_attribute("data-connection", "deleted")
        expect(status).to_have_text("This timer was deleted.")
        expect(page.locator("#time")).to_be_hidden()
        expect(page.locator("#bar")).to_be_hidden()
        box = status.bounding_box()
        assert box is not None and box["height"] >= 0.08 * 360, box


HOST = """<!doctype html><title>Host</title>
<iframe src="{base}/widget?timer={id}&alarm=0" style="width:300px;height:300px"></iframe>
<script>
  window.heard = [];
  addEventListener("message", (event) => {{
    if (event.data && event.data.source === "castimer") window.heard.push(event.data);
  }});
</script>"""


def test_the_host_page_hears_warnings_messages_and_the_stop(
        browser: Browser, site: Server, api: httpx.Client, host_site: HostSite) -> None:
    timer = create(api, duration=2, warn_at=1, overtime=True)
    with opened_context(browser) as context:
        page = context.new_page()
        page.goto(host_site.put("/room.html", HOST.format(base=site.base, id=timer["id"])))
        expect(page.frame_locator("iframe").locator("#timer")).to_have_attribute(
            "data-connection", "live")
        act(api, timer["id"], "start")
        api.put(f"/timers/{timer['id']}/message", json={"text": "<i>Wrap</i>", "flash": True})
        page.wait_for_function("() => window.heard.some(m => m.event === 'timer.completed')",
                               timeout=5000)
        act(api, timer["id"], "stop")
        page.wait_for_function("() => window.heard.some(m => m.event === 'timer.stopped')")
        heard = {m["event"]: m for m in page.evaluate("window.heard")}
        assert heard["timer.warning"]["level"] == "warning"
        assert heard["timer.message"]["message"]["text"] == "<i>Wrap</i>"
        assert heard["timer.message"]["message"]["flash"] is True
        assert heard["timer.stopped"]["state"] == "completed"
        assert heard["timer.stopped"]["timer_id"] == timer["id"]
