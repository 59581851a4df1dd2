"""The presenter page in Chromium against a real server: all of it on a phone's screen, the
level colours at their thresholds, messages to the stage (as text, to every screen), stop in
overtime, reset behind a confirmation, the viewer count, and a link that is no longer valid."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import opened_context
from tests.browser.test_live import act, create, open_live
from tests.browser.test_pages import wait_for
from tests.browser.test_widget import at_offset, schedule, starts_words
from tests.servers import Server

PHONES = [(390, 844), (360, 740)]
MINUS = "\u2212"  # overtime: the time past zero behind a minus sign

# Every control the page shows, and whether it lies wholly inside the viewport; and whether
# the document is wider or taller than the screen.
LAYOUT = """() => {
  const visible = (el) => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== "hidden";
  const outside = [];
  const shown = "button, input, #time, #viewers, #connection, #sync";
  for (const el of document.querySelectorAll(shown)) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.left < 0 || r.top < 0 || r.right > innerWidth || r.bottom > innerHeight) {
      outside.push([el.id || el.textContent, r.left, r.top, r.right, r.bottom]);
    }
  }
  const digits = document.createRange();
  digits.selectNodeContents(document.querySelector("#time"));
  const time = document.querySelector("#time").getBoundingClientRect();
  const drawn = digits.getBoundingClientRect();
  return {
    outside,
    scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    viewport: [innerWidth, innerHeight],
    controls: document.querySelectorAll(".controls button:not([hidden]), .controls input").length,
    digitsInside: drawn.left >= time.left - 1 && drawn.right <= time.right + 1,
    digitsShare: drawn.width / innerWidth,
  };
}"""


def layout(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(LAYOUT))


def assert_fits(page: Page) -> None:
    seen = layout(page)
    assert seen["outside"] == [], seen
    assert seen["scroll"] == seen["viewport"], seen  # no scrolling either way
    assert seen["digitsInside"], seen
    assert seen["digitsShare"] > 0.7, seen  # the time as large as the width allows


def open_presenter(page: Page, timer: dict[str, Any], lang: str = "") -> None:
    base, _, fragment = timer["urls"]["control"].partition("#")
    page.goto(f"{base}{'?lang=' + lang if lang else ''}#{fragment}")
    expect(page.locator("body")).to_have_attribute("data-connection", "live")


@pytest.mark.parametrize(("width", "height"), PHONES)
@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_every_control_is_on_a_phone_screen_without_scrolling(
        browser: Browser, api: httpx.Client, width: int, height: int, lang: str) -> None:
    timer = create(api, duration=2, overtime=True, warn_at=1, title="A keynote title far too "
                   "long for one line of a phone, as keynote titles are")
    with opened_context(browser, viewport={"width": width, "height": height},
                        has_touch=True) as context:
        page = context.new_page()
        open_presenter(page, timer, lang)
        expect(page.locator("#viewers")).to_be_visible()
        assert_fits(page)
        # The longest it gets: in overtime (stop beside pause), a message of the most
        # characters allowed on screen, the count of viewers and the sync shown.
        api.put(f"/timers/{timer['id']}/message", json={"text": "Wrap up now " * 23 + "end."})
        act(api, timer["id"], "start")
        expect(page.locator("#stop")).to_be_visible(timeout=5000)
        expect(page.locator("#on-screen")).to_be_visible()
        expect(page.locator("#sync")).to_be_visible()
        assert_fits(page)
        # Pause and stop, four adjusts, blackout and reset; six presets; flash, clear and send;
        # and the text box.
        assert layout(page)["controls"] == 18
        assert all(share > 0.98 for share in page.evaluate(ROWS)), page.evaluate(ROWS)


# How much of its grid's width each row of buttons fills (gaps included): 1 for every row
# when no button is left alone on a row.
ROWS = """() => {
  const shares = [];
  for (const grid of document.querySelectorAll(".controls .grid")) {
    const gap = parseFloat(getComputedStyle(grid).columnGap);
    const rows = new Map();
    for (const cell of grid.children) {
      if (cell.getClientRects().length === 0) continue;
      const r = cell.getBoundingClientRect();
      const top = Math.round(r.top);
      rows.set(top, (rows.get(top) ?? -gap) + r.width + gap);
    }
    for (const width of rows.values()) shares.push(width / grid.clientWidth);
  }
  return shares;
}"""


def levels_seen(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("window.levels"))


RECORD_LEVELS = """() => {
  window.levels = [];
  const time = document.querySelector("#time");
  const look = () => {
    const level = document.body.dataset.level;
    const last = window.levels[window.levels.length - 1];
    if (!last || last.level !== level) {
      window.levels.push({level, at: Date.now(), color: getComputedStyle(time).color,
                          text: time.textContent});
    }
    requestAnimationFrame(look);
  };
  look();
}"""


def test_the_level_colours_change_at_the_thresholds(browser: Browser,
                                                    api: httpx.Client) -> None:
    timer = create(api, duration=4, warn_at=3, danger_at=1, overtime=True)
    with opened_context(browser, viewport={"width": 390, "height": 844}) as context:
        page = context.new_page()
        open_presenter(page, timer)
        page.evaluate(RECORD_LEVELS)
        started = act(api, timer["id"], "start")
        page.wait_for_function("() => window.levels.some(l => l.level === 'overtime')",
                               timeout=8000)
        page.wait_for_timeout(1200)  # a second past zero, counting up
        seen = levels_seen(page)
        assert [s["level"] for s in seen] == ["normal", "warning", "danger", "overtime"], seen
        # Each change within a frame or two of its instant (the server and the page share this
        # machine's clock; the page learnt the offset over the socket).
        zero = started["server_time"] + started["remaining_ms"]
        for level, at in (("warning", zero - 3000), ("danger", zero - 1000), ("overtime", zero)):
            change = next(s for s in seen if s["level"] == level)
            assert abs(change["at"] - at) < 100, (level, change["at"] - at, seen)
        colors = {s["level"]: s["color"] for s in seen}
        assert len({colors["normal"], colors["warning"], colors["danger"]}) == 3, colors
        assert colors["overtime"] == colors["danger"]
        expect(page.locator("#time")).to_have_text(MINUS + "00:01")
        expect(page.locator("#state")).to_have_text("Overtime")


def frames_of(page: Page) -> list[dict[str, Any]]:
    """What the page's sockets receive, seen from outside the page."""
    received: list[dict[str, Any]] = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: received.append(json.loads(payload))))
    return received


def test_a_message_sent_from_the_presenter_page_reaches_a_widget_in_another_browser(
        browser: Browser, site: Server, api: httpx.Client) -> None:
    timer = create(api, duration=600, title="Panel")
    with opened_context(browser, viewport={"width": 390, "height": 844}) as presenting, \
            opened_context(browser) as watching:
        widget = watching.new_page()
        heard = frames_of(widget)
        open_live(widget, site, timer["id"])
        page = presenting.new_page()
        open_presenter(page, timer)
        page.click("#flash")
        expect(page.locator("#flash")).to_have_attribute("aria-pressed", "true")
        page.click("[data-preset=questions]")
        expect(page.locator("#on-screen-text")).to_have_text("Questions now")
        expect(page.locator("body")).to_have_attribute("data-flash", "true")
        assert api.get(f"/timers/{timer['id']}").json()["message"]["text"] == "Questions now"

        page.fill("#message-text", "Two minutes to the break")
        page.click("#flash")  # off again
        page.press("#message-text", "Enter")
        expect(page.locator("#on-screen-text")).to_have_text("Two minutes to the break")
        expect(page.locator("#message-text")).to_have_value("")
        expect(page.locator("body")).to_have_attribute("data-flash", "false")
        # The widget in the other browser got both over its own socket.
        wait_until(lambda: len(messages(heard)) == 2)
        assert messages(heard) == [("Questions now", True), ("Two minutes to the break", False)]

        page.click("#clear-message")
        expect(page.locator("#on-screen")).to_be_hidden()
        assert api.get(f"/timers/{timer['id']}").json()["message"] is None
        expect(page.locator("#clear-message")).to_be_disabled()


def messages(frames: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(f["timer"]["message"]["text"], f["timer"]["message"]["flash"]) for f in frames
            if f.get("event") == "timer.message" and f["timer"]["message"]]


def wait_until(condition: Any, timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_script_message_stays_text_on_the_presenter_page(page: Page,
                                                           api: httpx.Client) -> None:
    timer = create(api, duration=60)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_presenter(page, timer)
    hostile = "<script>window.ran = 1</script><img src=x onerror=alert(1)>"
    page.fill("#message-text", hostile)
    page.click("#send-message")
    expect(page.locator("#on-screen-text")).to_have_text(hostile)
    assert api.get(f"/timers/{timer['id']}").json()["message"]["text"] == hostile
    assert page.evaluate("[window.ran, document.querySelectorAll('main script, img').length]") \
        == [None, 0]
    assert dialogs == []


def test_reset_asks_for_confirmation(page: Page, api: httpx.Client) -> None:
    timer = create(api, duration=300)
    act(api, timer["id"], "start")
    open_presenter(page, timer)
    page.click("#reset")
    expect(page.locator("#reset")).to_have_text("Tap again to reset")
    page.wait_for_timeout(500)  # nothing was sent: the timer runs on
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "running"
    page.click("#reset")
    assert wait_for(api, timer["id"], lambda t: t["state"] == "idle")["state"] == "idle"
    expect(page.locator("#reset")).to_have_text("Reset")
    expect(page.locator("#time")).to_have_text("05:00")


def test_stop_appears_in_overtime_and_ends_it(page: Page, api: httpx.Client) -> None:
    timer = create(api, duration=1, overtime=True)
    open_presenter(page, timer)
    expect(page.locator("#stop")).to_be_hidden()
    page.click("#start")
    expect(page.locator("#stop")).to_be_visible(timeout=4000)
    expect(page.locator("#time")).to_have_text(MINUS + "00:01", timeout=3000)
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "overtime"
    page.click("#stop")
    stopped = wait_for(api, timer["id"], lambda t: t["state"] == "completed")
    assert stopped["state"] == "completed"
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#state")).to_have_text("Time's up!")
    names = [e["event"] for e in api.get("/events", params={"timer_id": timer["id"]})
             .json()["data"]]
    assert names.count("timer.stopped") == 1 and names.count("timer.completed") == 1, names


def test_a_wrong_or_rotated_token_shows_its_error_and_measures_nothing(
        page: Page, api: httpx.Client) -> None:
    timer = create(api, duration=60)
    bad_token = "This control link is no longer valid: the token is wrong or was rotated."
    base = timer["urls"]["control"].split("#")[0]
    page.goto(f"{base}#token=ctl_wrong")
    expect(page.locator("#notice")).to_have_text(bad_token)
    expect(page.locator("body")).to_have_attribute("data-connection", "unauthorized")
    page.wait_for_timeout(1000)  # and it stays so: nothing goes on "measuring"
    expect(page.locator("#sync")).to_be_hidden()
    expect(page.locator("#connection")).to_be_hidden()
    assert "Measuring" not in page.locator("body").inner_text()
    expect(page.locator("#start")).to_be_disabled()

    open_presenter(page, timer)  # the right link pasted into the same tab
    expect(page.locator("#sync")).to_have_text(re.compile(r"^Clock sync ±\d+ ms$"))
    response = api.post(f"/timers/{timer['id']}/control-token/rotate")
    assert response.status_code == 200, response.text
    expect(page.locator("#notice")).to_have_text(bad_token)
    expect(page.locator("#sync")).to_be_hidden()
    expect(page.locator("#time")).to_have_text("--:--")
    assert "Measuring" not in page.locator("body").inner_text()


def test_the_viewer_count_follows_the_screens(browser: Browser, site: Server,
                                              api: httpx.Client) -> None:
    timer = create(api, duration=60)
    with opened_context(browser, viewport={"width": 390, "height": 844}) as presenting, \
            opened_context(browser) as watching:
        page = presenting.new_page()
        open_presenter(page, timer)
        viewers = page.locator("#viewers")
        expect(viewers).to_have_text("Viewers: 0", timeout=4000)
        screens = [watching.new_page() for _ in range(2)]
        for screen in screens:
            open_live(screen, site, timer["id"])
        expect(viewers).to_have_text("Viewers: 2", timeout=4000)
        screens[0].close()
        expect(viewers).to_have_text("Viewers: 1", timeout=4000)
        # A presenter opening the page now hears the count at once, though it did not change.
        late = presenting.new_page()
        open_presenter(late, timer)
        expect(late.locator("#viewers")).to_have_text("Viewers: 1", timeout=1000)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_monitor_says_when_a_scheduled_timer_starts_and_follows_changes_live(
        browser: Browser, api: httpx.Client, lang: str) -> None:
    start = at_offset(-5, ahead=dt.timedelta(days=3))  # New York's winter clock
    timer = create(api, duration=900, title="Opening remarks", start_at=start.isoformat())
    with opened_context(browser, viewport={"width": 390, "height": 844}, has_touch=True,
                        timezone_id="Asia/Kolkata") as context:
        page = context.new_page()
        open_presenter(page, timer, lang)
        state = page.locator("#state")
        expect(state).to_have_text(starts_words(lang, start))
        assert_fits(page)
        box = state.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        later = at_offset(-5, ahead=dt.timedelta(minutes=20))
        schedule(api, timer["id"], later)
        expect(state).to_have_text(starts_words(lang, later))
        schedule(api, timer["id"], None)
        expect(state).to_have_text("Ready" if lang == "en" else "準備完了")
