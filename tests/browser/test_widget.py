"""The standalone widget in Chromium: what it shows for each timer type, languages, themes,
colours, bad parameters and frame sizes; and a live timer's scheduled start."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import opened_context
from tests.browser.test_live import create, open_live
from tests.servers import Server


def test_standalone_countdown_shows_five_minutes_then_counts_down(page: Page,
                                                                   site: Server) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # The browser's clock is driven: on a busy machine the page may take longer than the
    # first second to load, and 05:00 would be gone before anyone looked.
    page.clock.install()
    page.goto(f"{site.base}/widget?duration=300")
    expect(page.locator("#time")).to_have_text("05:00")
    page.clock.run_for(1000)
    expect(page.locator("#time")).to_have_text("04:59")
    # Everything the widget loaded came from Castimer itself.
    assert len(requests) >= 4 and all(url.startswith(site.base + "/") for url in requests)


def test_show_title_and_show_date_0_hide_them(page: Page, site: Server) -> None:
    event = "type=event&target_date=2099-01-01T00:00:00Z&title=Launch"
    page.goto(f"{site.base}/widget?{event}")
    expect(page.locator("#title")).to_have_text("Launch")
    expect(page.locator("#date")).to_be_visible()
    page.goto(f"{site.base}/widget?{event}&show_title=0&show_date=0")
    expect(page.locator("#time")).not_to_be_empty()
    expect(page.locator("#title")).to_be_hidden()
    expect(page.locator("#date")).to_be_hidden()


def test_event_shows_days_hours_and_the_target_date_in_its_timezone(page: Page,
                                                                    site: Server) -> None:
    now = dt.datetime.now(dt.UTC)
    # 03:00 UTC is the evening before in New York, so the date shown proves the timezone;
    # the extra minutes and 30 s keep the hour steady while the test looks.
    target = (now.replace(hour=3, minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
              + dt.timedelta(minutes=now.minute, seconds=now.second + 30))
    left = int((target - now).total_seconds())
    days, hours = left // 86400, left % 86400 // 3600
    local = target.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    page.goto(f"{site.base}/widget?type=event&timezone=America/New_York"
              f"&target_date={target.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    expect(page.locator("#days")).to_have_text(f"{days} days")
    expect(page.locator("#time")).to_have_text(re.compile(rf"^{hours:02d}:\d\d:\d\d$"))
    date = page.locator("#date").inner_text()
    assert f"{local:%B} {local.day}, {local.year}" in date, date
    assert f"{local.hour % 12 or 12}:{local.minute:02d} PM" in date, date


def test_interval_shows_round_one_of_eight_working_then_resting_at_20_s(page: Page,
                                                                        site: Server) -> None:
    # Twenty real seconds would dominate the suite: the browser's clock is driven instead.
    # The widget reads nothing but the clock, so this is the same code path.
    page.clock.install()
    page.goto(f"{site.base}/widget?type=interval")
    expect(page.locator("#round")).to_have_text("Round 1 of 8 · Work")
    expect(page.locator("#time")).to_have_text("00:20")
    page.clock.run_for(19_500)
    expect(page.locator("#time")).to_have_text("00:01")
    expect(page.locator("#round")).to_have_text("Round 1 of 8 · Work")
    page.clock.run_for(600)
    expect(page.locator("#round")).to_have_text("Round 1 of 8 · Rest")
    expect(page.locator("#time")).to_have_text("00:10")
    page.clock.run_for(10_000)
    expect(page.locator("#round")).to_have_text("Round 2 of 8 · Work")


ROUND_ONE_WORK = {
    "en": ("Round 1 of 8 · Work", "Powered by Castimer"),
    "zh": ("第 1 轮，共 8 轮 · 训练", "由 Castimer 提供"),  # noqa: RUF001
    "ja": ("ラウンド 1 / 8 · ワーク", "Castimer 提供"),
    "es": ("Ronda 1 de 8 · Trabajo", "Con la tecnología de Castimer"),
    "fr": ("Tour 1 sur 8 · Effort", "Propulsé par Castimer"),
    "de": ("Runde 1 von 8 · Belastung", "Bereitgestellt von Castimer"),
    "ko": ("8라운드 중 1라운드 · 운동", "Castimer 제공"),
}


@pytest.mark.parametrize("lang", list(ROUND_ONE_WORK))
def test_each_language_shows_its_own_labels(page: Page, site: Server, lang: str) -> None:
    page.goto(f"{site.base}/widget?type=interval&lang={lang}")
    label, brand = ROUND_ONE_WORK[lang]
    expect(page.locator("#round")).to_have_text(label)
    expect(page.locator("#brand")).to_have_text(brand)
    assert page.locator("html").get_attribute("lang") == lang


def test_an_unknown_language_falls_back_to_english(page: Page, site: Server) -> None:
    response = page.goto(f"{site.base}/widget?type=interval&lang=xx&utm_source=mail")
    assert response is not None and response.status == 200
    expect(page.locator("#round")).to_have_text("Round 1 of 8 · Work")


DARK, LIGHT = "rgb(21, 21, 28)", "rgb(255, 255, 255)"


@pytest.mark.parametrize(("theme", "scheme", "background"), [
    ("dark", "light", DARK), ("light", "dark", LIGHT),
    ("auto", "dark", DARK), ("auto", "light", LIGHT),
])
def test_themes_apply(page: Page, site: Server, theme: str, scheme: str,
                      background: str) -> None:
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.goto(f"{site.base}/widget?theme={theme}")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background


@pytest.mark.parametrize(("color", "rgb"), [("FF0000", "rgb(255, 0, 0)"),
                                            ("0a0", "rgb(0, 170, 0)")])
def test_primary_color_applies(page: Page, site: Server, color: str, rgb: str) -> None:
    page.goto(f"{site.base}/widget?primary_color={color}")
    expect(page.locator("#time")).to_have_css("color", rgb)


@pytest.mark.parametrize(("query", "message"), [
    ("duration=-1", "duration must be a whole number from 1 to 316224000; got “-1”."),
    ("duration=-1&lang=de",
     "duration muss eine ganze Zahl von 1 bis 316224000 sein; erhalten: „-1“."),
    ("primary_color=zzz",
     "primary_color must be 3 or 6 hexadecimal digits, like 6C63FF; got “zzz”."),
    ("primary_color=zzz&lang=ja",
     "primary_color は 3 桁または 6 桁の 16 進数でなければなりません"
     "（例: 6C63FF、受け取った値:「zzz」）。"),  # noqa: RUF001
    ("theme=pink&lang=fr",
     "theme doit valoir l’une de ces valeurs : light, dark, auto ; reçu « pink »."),  # noqa: RUF001
    ("type=event", "target_date is required for event timers."),
])
def test_a_bad_value_shows_a_localised_message_with_400(page: Page, site: Server, query: str,
                                                        message: str) -> None:
    response = page.goto(f"{site.base}/widget?{query}")
    assert response is not None and response.status == 400
    expect(page.locator(".problem p")).to_have_text(message)
    expect(page.locator("#time")).to_have_count(0)


LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth || root.scrollHeight > root.clientHeight) {
    problems.push(`document ${root.scrollWidth}x${root.scrollHeight}`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.tagName === "SCRIPT" || !el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    const name = el.id || el.tagName;
    if (box.left < -0.5 || box.top < -0.5 || box.right > innerWidth + 0.5 ||
        box.bottom > innerHeight + 0.5) problems.push(`${name} outside the frame`);
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
      problems.push(`${name} clipped`);
    }
  }
  return problems;
}"""


@pytest.mark.parametrize("query", [
    "duration=5400&title=Quarterly%20review",
    "type=event&target_date=2099-01-01T00:00:00Z&timezone=Asia/Tokyo&title=Launch",
    "type=interval&title=HIIT&lang=de",
    "duration=-1&lang=fr",
])
def test_nothing_overflows_from_100x200_to_600x600(browser: Browser, site: Server,
                                                  query: str) -> None:
    sizes = {}
    for width, height in ((100, 200), (600, 600)):
        with opened_context(browser, viewport={"width": width, "height": height}) as context:
            page = context.new_page()
            page.goto(f"{site.base}/widget?{query}")
            selector = ".problem h1" if "duration=-1" in query else "#time"
            expect(page.locator(selector)).not_to_be_empty()
            assert page.evaluate(LAYOUT_PROBLEMS) == [], (width, height)
            sizes[width] = float(page.locator(selector).evaluate(
                "el => parseFloat(getComputedStyle(el).fontSize)"))
            # Every visible piece of text, not only the time, stays readable.
            smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll(
                'body *')].filter(el => el.offsetParent && [...el.childNodes].some(
                n => n.nodeType === 3 && n.textContent.trim())).map(
                el => parseFloat(getComputedStyle(el).fontSize)))""")
            assert smallest >= 9, (width, height, smallest)
    # Legible in the smallest frame, and the text grows with the frame.
    assert sizes[100] >= 12
    assert sizes[600] > 2 * sizes[100]


# The lines each listed word's characters are drawn on, found by a Range over its text node.
WORD_LINES = """(words) => {
  const lines = {};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const word of words) {
      const at = node.textContent.indexOf(word);
      if (at < 0) continue;
      const tops = new Set();
      for (let i = at; i < at + word.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        tops.add(Math.round(range.getBoundingClientRect().top));
      }
      lines[word] = tops.size;
    }
  }
  return lines;
}"""


@pytest.mark.parametrize(("lang", "words"), [
    ("ja", ["ラウンド", "ワーク", "Castimer", "提供"]),
    ("zh", ["训练", "Castimer", "提供"]),
    ("ko", ["8라운드", "1라운드", "운동", "Castimer", "제공"]),
])
def test_cjk_words_never_break_inside_at_100x200(browser: Browser, site: Server, lang: str,
                                                 words: list[str]) -> None:
    with opened_context(browser, viewport={"width": 100, "height": 200}) as context:
        page = context.new_page()
        page.goto(f"{site.base}/widget?type=interval&lang={lang}")
        expect(page.locator("#round")).not_to_be_empty()
        assert page.evaluate(WORD_LINES, words) == dict.fromkeys(words, 1)
        assert page.evaluate(LAYOUT_PROBLEMS) == []


# -- a live timer's scheduled start ------------------------------------------------------------

def schedule(api: httpx.Client, timer_id: str, start: dt.datetime | None) -> dict[str, Any]:
    """PATCH the timer's start_at (None clears it), written with `start`'s own offset."""
    start_at = None if start is None else start.isoformat(timespec="seconds")
    response = api.patch(f"/timers/{timer_id}", json={"start_at": start_at})
    assert response.status_code == 200, response.text
    return dict(response.json())


def at_offset(hours: int, minutes: int = 0, *, ahead: dt.timedelta) -> dt.datetime:
    """A whole minute `ahead` of now, as a clock at that UTC offset reads it."""
    zone = dt.timezone(dt.timedelta(hours=hours, minutes=minutes))
    start = (dt.datetime.now(dt.UTC) + ahead).astimezone(zone)
    return start.replace(second=0, microsecond=0)


def starts_words(lang: str, start: dt.datetime) -> str:
    """What the pages say of a scheduled start, in English, Japanese or Chinese: its hour on
    the clock of the offset it was written with, and its date when that is not today there."""
    today = dt.datetime.now(dt.UTC).astimezone(start.tzinfo).date()
    hour = start.hour % 12 or 12
    time_ = {"en": f"{hour}:{start.minute:02d}\u202f{'AM' if start.hour < 12 else 'PM'}",
             "ja": f"{start.hour}:{start.minute:02d}",
             "zh": f"{start.hour:02d}:{start.minute:02d}"}[lang]
    if start.date() == today:
        return {"en": f"Starts at {time_}", "ja": f"{time_}に開始",
                "zh": f"将于 {time_} 开始"}[lang]
    year = start.year != today.year
    date = {"en": f"{start:%b} {start.day}" + (f", {start.year}" if year else ""),
            "ja": (f"{start.year}年" if year else "") + f"{start.month}月{start.day}日",
            "zh": (f"{start.year}年" if year else "") + f"{start.month}月{start.day}日"}[lang]
    return {"en": f"Starts on {date} at {time_}", "ja": f"{date} {time_}に開始",
            "zh": f"将于 {date} {time_} 开始"}[lang]


def test_an_idle_live_timer_says_when_it_starts_on_the_clock_it_was_scheduled_by(
        browser: Browser, site: Server, api: httpx.Client) -> None:
    """In Japanese, in a browser on Los Angeles time: the hour is Tokyo's, as written."""
    tomorrow = at_offset(9, ahead=dt.timedelta(days=1, hours=2))
    later = create(api, duration=300, start_at=tomorrow.isoformat())
    soon = at_offset(9, ahead=dt.timedelta(minutes=30))
    today = create(api, duration=300, start_at=soon.isoformat())
    with opened_context(browser, viewport={"width": 390, "height": 844}, locale="en-US",
                        timezone_id="America/Los_Angeles") as context:
        page = context.new_page()
        open_live(page, site, later["id"], "&lang=ja")
        expect(page.locator("#status")).to_have_text(starts_words("ja", tomorrow))
        assert "月" in starts_words("ja", tomorrow)  # another day in Tokyo: the date is said
        open_live(page, site, today["id"], "&lang=ja")
        expect(page.locator("#status")).to_have_text(starts_words("ja", soon))
        expect(page.locator("#time")).to_have_text("05:00")


def test_a_scheduled_start_appears_and_goes_live_then_the_timer_starts_by_itself(
        page: Page, site: Server, api: httpx.Client) -> None:
    timer = create(api, duration=60)
    open_live(page, site, timer["id"])
    status = page.locator("#status")
    expect(status).to_have_text("Ready")
    page.evaluate("window.notReloaded = true")

    # Kathmandu's +05:45: no other offset's clock reads the same hour and minute.
    start = at_offset(5, 45, ahead=dt.timedelta(hours=3))
    schedule(api, timer["id"], start)
    expect(status).to_have_text(starts_words("en", start))
    schedule(api, timer["id"], None)
    expect(status).to_have_text("Ready")

    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
    schedule(api, timer["id"], soon)
    expect(status).to_contain_text("Starts at")
    expect(page.locator("#time")).to_have_text("01:00")
    expect(page.locator("#timer")).to_have_attribute("data-state", "running", timeout=6000)
    expect(status).to_be_hidden()
    expect(page.locator("#time")).to_have_text("00:59", timeout=2500)
    started = api.get(f"/timers/{timer['id']}").json()
    assert (started["started_at"], started["start_at"]) == (
        soon.strftime("%Y-%m-%dT%H:%M:%S.000Z"), None)  # from start_at itself, which is spent
    assert page.evaluate("window.notReloaded") is True
