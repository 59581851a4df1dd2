"""The stage display (`/stage/{id}`) in Chromium: digits that fill the width at every 16:9 size
without overflowing, mirror, transparency, the time of day, the progress bar, the seven
languages and a scheduled start."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from server import i18n
from tests.browser.conftest import opened_context
from tests.browser.pixels import Image
from tests.browser.test_live import act, create
from tests.browser.test_widget import at_offset, schedule, starts_words
from tests.servers import Server

STAGE_SIZES = [(640, 360), (1280, 720), (1920, 1080), (3840, 2160)]
LONG = ("The next speaker is waiting backstage and the room has to be cleared by half past: "
        "please take the last two questions now, thank the sponsors, and close with the "
        "announcement about the evening reception in the main hall at seven o'clock. "
        "Lights go down right after.")[:280]


def open_stage(page: Page, site: Server, timer_id: str, query: str = "") -> None:
    page.goto(f"{site.base}/stage/{timer_id}{query}")
    expect(page.locator("#stage")).to_have_attribute("data-connection", "live")


# Every element's box inside the window, nothing scrollable, and the digits' width.
LAYOUT = """() => {
  const root = document.documentElement;
  const outside = [...document.querySelectorAll('#stage *')].filter((node) => {
    const box = node.getBoundingClientRect();
    return box.width && (box.left < -0.5 || box.top < -0.5 || box.right > innerWidth + 0.5
                         || box.bottom > innerHeight + 0.5);
  }).map((node) => node.id || node.tagName);
  const time = document.querySelector('#time');
  const box = time.getBoundingClientRect();
  const space = document.querySelector('#digits').getBoundingClientRect();
  return {
    scrolls: root.scrollWidth > innerWidth || root.scrollHeight > innerHeight,
    outside,
    // The digits' space hides what overflows it: the digits must fit inside it.
    clipped: box.left < space.left - 0.5 || box.right > space.right + 0.5
      || box.top < space.top - 0.5 || box.bottom > space.bottom + 0.5,
    // As large as their space allows: as wide or as tall as it, give or take a little.
    fills: box.width >= 0.9 * space.width || box.height >= 0.9 * space.height,
    digits: box.width / innerWidth,
  };
}"""


@pytest.mark.parametrize(("width", "height"), STAGE_SIZES)
def test_the_digits_fill_the_width_without_overflow_at_every_stage_size(
        browser: Browser, site: Server, api: httpx.Client, width: int, height: int) -> None:
    timer = act(api, create(api, duration=600, title="Keynote: " + "a long title " * 12)["id"],
                "start")
    with opened_context(browser, viewport={"width": width, "height": height}) as context:
        page = context.new_page()
        for message in (LONG, "Wrap up", None):  # the digits' space grows at each step
            if message is None:
                assert api.delete(f"/timers/{timer['id']}/message").status_code == 200
                expect(page.locator("#message")).to_be_hidden()
            else:
                put = api.put(f"/timers/{timer['id']}/message", json={"text": message})
                assert put.status_code == 200, put.text
                if message == LONG:
                    open_stage(page, site, timer["id"], "?clock=1")
                expect(page.locator("#message")).to_have_text(message)
            _check_layout(page, message)
        # An OBS source or a window resized to the next size: the digits follow.
        index = STAGE_SIZES.index((width, height))
        bigger, smaller = STAGE_SIZES[(index + 1) % 4], STAGE_SIZES[index - 1]
        for size in (bigger, smaller):
            page.set_viewport_size({"width": size[0], "height": size[1]})
            _check_layout(page, size)


def _check_layout(page: Page, step: object) -> None:
    page.wait_for_timeout(100)  # one resize and one frame later
    layout = page.evaluate(LAYOUT)
    assert not layout["scrolls"] and layout["outside"] == [], (step, layout)
    assert not layout["clipped"] and layout["fills"], (step, layout)
    assert layout["digits"] >= 0.4, (step, layout)


def _screenshot(page: Page, **options: Any) -> Image:
    page.wait_for_timeout(100)
    return Image(page.screenshot(animations="disabled", **options))


def test_mirror_1_draws_the_display_mirrored_for_teleprompter_glass(
        browser: Browser, site: Server, api: httpx.Client) -> None:
    timer = create(api, duration=754, title="Mirror")  # idle: nothing moves between the shots
    with opened_context(browser, viewport={"width": 320, "height": 180}) as context:
        page = context.new_page()
        open_stage(page, site, timer["id"])
        plain = _screenshot(page)
        open_stage(page, site, timer["id"], "?mirror=1")
        mirrored = _screenshot(page)
    differing = sum(plain.pixel(x, y) != mirrored.pixel(plain.width - 1 - x, y)
                    for y in range(plain.height) for x in range(plain.width))
    drawn = sum(plain.pixel(x, y)[:3] != (0, 0, 0)
                for y in range(plain.height) for x in range(plain.width))
    # Glyph edges are antialiased a little differently once flipped; the shapes are the same.
    assert drawn > 2000 and differing < drawn * 0.1, (differing, drawn)


def test_transparent_1_draws_nothing_but_the_text(browser: Browser, site: Server,
                                                   api: httpx.Client) -> None:
    timer = create(api, duration=300, title="Overlay")
    with opened_context(browser, viewport={"width": 320, "height": 180}) as context:
        page = context.new_page()
        open_stage(page, site, timer["id"], "?transparent=1")
        clear = _screenshot(page, omit_background=True)
        open_stage(page, site, timer["id"])
        opaque = _screenshot(page, omit_background=True)
    alphas = {clear.pixel(x, y)[3] for y in range(clear.height) for x in range(clear.width)}
    assert clear.pixel(2, 2)[3] == 0 and clear.pixel(319, 179)[3] == 0  # the corners: nothing
    assert 255 in alphas  # the digits are drawn
    assert opaque.pixel(2, 2) == (0, 0, 0, 255)  # without transparent=1, a black screen


def test_clock_1_shows_the_time_of_day_in_the_timers_timezone(page: Page, site: Server,
                                                              api: httpx.Client) -> None:
    target = dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)
    timer = create(api, type="event", target_date=target.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   timezone="Asia/Kathmandu")  # UTC+05:45: no other zone's clock reads so
    open_stage(page, site, timer["id"], "?clock=1")
    shown = page.locator("#clock").inner_text()
    local = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Kathmandu"))
    readings = {f"{moment.hour % 12 or 12}:{moment.minute:02d}"
                for moment in (local - dt.timedelta(seconds=2), local)}
    assert any(shown.startswith(reading + ":") for reading in readings), (shown, readings)
    open_stage(page, site, timer["id"])
    expect(page.locator("#clock")).to_be_hidden()


def test_progress_0_has_no_bar(page: Page, site: Server, api: httpx.Client) -> None:
    timer = act(api, create(api, duration=100)["id"], "start")
    open_stage(page, site, timer["id"])
    scale = page.evaluate("new DOMMatrix(getComputedStyle(document.querySelector('#fill'))"
                          ".transform).a")
    assert 0.95 < scale <= 1
    open_stage(page, site, timer["id"], "?progress=0")
    assert page.locator("#bar").count() == 0


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_stage_display_speaks_each_language(page: Page, site: Server, api: httpx.Client,
                                                 lang: str) -> None:
    timer = act(api, act(api, create(api, type="interval", work=30, rest=10, rounds=3)["id"],
                         "start")["id"], "pause")
    open_stage(page, site, timer["id"], f"?lang={lang}")
    words = i18n.CATALOGS[lang]
    assert page.evaluate("document.documentElement.lang") == lang
    expect(page.locator("#status")).to_have_text(words["widget.paused"])
    expect(page.locator("#round")).to_contain_text(words["widget.work"])
    assert page.title().startswith(words["stage.label"])


@pytest.mark.parametrize(("width", "height"), STAGE_SIZES[:2])
def test_a_scheduled_start_is_said_in_chinese_and_follows_the_timer_live(
        browser: Browser, site: Server, api: httpx.Client, width: int, height: int) -> None:
    # Beijing's clock, two days ahead: the date is said, and the hour is UTC+8's.
    start = at_offset(8, ahead=dt.timedelta(days=2, hours=3))
    timer = create(api, duration=1800, title="主题演讲", start_at=start.isoformat())
    with opened_context(browser, viewport={"width": width, "height": height},
                        timezone_id="Europe/London") as context:
        page = context.new_page()
        open_stage(page, site, timer["id"], "?lang=zh")
        status = page.locator("#status")
        expect(status).to_have_text(starts_words("zh", start))
        seen = page.evaluate(LAYOUT)
        assert (seen["scrolls"], seen["outside"], seen["clipped"]) == (False, [], False), seen
        assert seen["fills"], seen
        schedule(api, timer["id"], None)
        expect(status).to_have_text(i18n.CATALOGS["zh"]["widget.idle"])
