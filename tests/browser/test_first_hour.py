"""What a newcomer sees in the first hour, in Chromium at a phone's, a tablet's and desktops'
sizes: the landing page, a dashboard with 30 timers, 5 keys and a failed delivery, the embed
generator and the presenter page, none scrolling sideways; and every page speaking the chosen
language, without an English string left over. Screenshots go to CASTIMER_SHOTS when set."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from server import i18n
from tests.browser.conftest import opened_context
from tests.browser.test_dashboard import sign_in
from tests.conftest import sqlite_url
from tests.servers import Server, client
from tests.webhooks.conftest import HOOK_ENV

SIZES = [(360, 740), (390, 844), (1024, 768), (1280, 800), (1920, 1080)]
SHOTS = os.environ.get("CASTIMER_SHOTS")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """A fresh server, its development key, and a presenter link: the account has 30 timers,
    5 keys, and a delivery that failed (nothing listens on port 9 of this machine)."""
    workdir = tmp_path_factory.mktemp("first-hour")
    server = Server(sqlite_url(workdir), workdir, env=HOOK_ENV).start()
    key = server.printed_key()
    with client(server, key) as api:
        for _ in range(4):
            api.post("/keys")
        made = [api.post("/timers", json=_mixed(n)).json() for n in range(29)]
        failing = api.post("/timers", json={"duration": 600, "title": "Keynote",
                                            "webhook_url": "http://127.0.0.1:9/hook"}).json()
        for started in (made[2], made[3]):  # an interval and a countdown
            api.patch(f"/timers/{started['id']}/state", json={"action": "start"})
        api.patch(f"/timers/{failing['id']}/state", json={"action": "start"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page = api.get(f"/timers/{failing['id']}/deliveries").json()["data"]
            if page and page[-1]["status"] == "failed":
                break
            time.sleep(0.2)
        assert page[-1]["status"] == "failed", page
    yield server, key, failing["urls"]["control"]
    server.stop()


TITLES = ["Opening address and welcome from the organising committee",
          "Workshop: accessible forms that speak every visitor's language",
          "Lightning talks, round two (five minutes each, strictly kept)"]


def _mixed(n: int) -> dict[str, object]:
    """Timer n of the fixture: countdowns, events and intervals in turn, with long titles, as
    a real account's list looks (an event timer runs from the moment it is made)."""
    title = f"{TITLES[n % 3]} · {n + 1}"
    if n % 3 == 1:
        target = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400 * (n + 1)))
        return {"type": "event", "target_date": target, "title": title}
    if n % 3 == 2:
        return {"type": "interval", "work": 40, "rest": 20, "rounds": 8, "title": title}
    return {"type": "countdown", "duration": 60 * (n + 1), "title": title}


EVENTS_MADE = len([n for n in range(29) if n % 3 == 1])

SIDEWAYS = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) problems.push(`page ${root.scrollWidth}px wide`);
  for (const box of document.querySelectorAll('section, .timer, .key, .cards a, form')) {
    const edge = box.getBoundingClientRect();
    if (!box.getClientRects().length) continue;
    for (const el of box.querySelectorAll('*')) {
      if (!el.getClientRects().length || el.closest('.visually-hidden')) continue;
      let clipped = false;  // inside a box that scrolls on its own (the embed's preview stage)
      for (let up = el.parentElement; up && up !== box; up = up.parentElement) {
        if (getComputedStyle(up).overflowX !== 'visible') clipped = true;
      }
      if (clipped) continue;
      const r = el.getBoundingClientRect();
      if (r.width && (r.right > edge.right + 1 || r.left < edge.left - 1)) {
        problems.push(`${el.tagName}.${el.className} out of ${box.tagName}.${box.className}`);
      }
    }
  }
  return [...new Set(problems)].slice(0, 10);
}"""


PREVIEW_FITS = """() => {
  const stage = document.querySelector('.stage');
  const frame = document.getElementById('preview').getBoundingClientRect();
  const room = stage.getBoundingClientRect();
  const problems = [];
  if (stage.scrollWidth > stage.clientWidth) problems.push(`stage scrolls: ${stage.scrollWidth}px`);
  if (frame.left < room.left || frame.right > room.right + 1) problems.push('preview cut off');
  if (frame.width < 200) problems.push(`preview ${frame.width}px wide`);
  return problems;
}"""


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_no_page_scrolls_sideways(browser: Browser, newcomer: tuple[Server, str, str],
                                  width: int, height: int) -> None:
    server, key, control = newcomer
    size = f"{width}x{height}"
    with opened_context(browser, viewport={"width": width, "height": height}) as context:
        page = context.new_page()
        page.goto(f"{server.base}/")
        expect(page.locator("#store")).to_have_attribute("data-store", "ok")
        assert page.evaluate(SIDEWAYS) == [], ("/", size)
        _shot(page, f"home-{size}")

        page.goto(f"{server.base}/embed")
        expect(page.locator("#code")).to_have_value(re.compile(r"/widget\?"))
        # The preview whole in its stage, scaled down where the stage is narrower than it.
        assert page.evaluate(PREVIEW_FITS) == [], ("/embed", size)
        page.fill("#primary_color", "zz")
        expect(page.locator('[data-error="primary_color"]')).to_be_visible()
        assert page.evaluate(SIDEWAYS) == [], ("/embed", size)
        _shot(page, f"embed-{size}")

        page.goto(control)
        expect(page.locator("#connection")).to_have_text("Connected")
        assert page.evaluate(SIDEWAYS) == [], ("/control", size)
        _shot(page, f"control-{size}")

        page = sign_in(context, server, key)
        expect(page.locator(".timer")).to_have_count(30)
        expect(page.locator("#key-list .key")).to_have_count(5)
        assert page.evaluate(SIDEWAYS) == [], ("/dashboard", size)
        _shot(page, f"dashboard-{size}")
        # The failed delivery's badge, opened.
        card = page.locator(".timer", has_text="Keynote")
        card.locator(".toggle-details").click()
        card.locator(".webhooks summary").click()
        failed = card.locator('.delivery[data-status="failed"] .status')
        expect(failed).to_have_text("failed")
        assert failed.evaluate("el => getComputedStyle(el).color") == "rgb(221, 51, 51)"
        assert page.evaluate(SIDEWAYS) == [], ("/dashboard, a card open", size)
        card.scroll_into_view_if_needed()
        if SHOTS:
            card.screenshot(path=f"{SHOTS}/dashboard-card-{size}.png")
            page.locator("#keys").screenshot(path=f"{SHOTS}/dashboard-keys-{size}.png")


ONE_LINE = """() => Array.from(document.querySelectorAll('.timer:not(.open)')).filter((row) => {
  // A compact row is one line: no taller than two of its buttons, every part beside the others.
  const parts = Array.from(row.querySelectorAll(
    '.title, .state, .time, .commands, .toggle-details')).filter((p) => p.getClientRects().length)
    .map((p) => p.getBoundingClientRect());
  const button = row.querySelector('.toggle-details').getBoundingClientRect().height;
  return row.getBoundingClientRect().height >= 2 * button ||
    Math.max(...parts.map((r) => r.top)) >= Math.min(...parts.map((r) => r.bottom));
}).map((row) => row.querySelector('.title').textContent)"""


def _signed_in(context: BrowserContext, server: Server, key: str, lang: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.base}/dashboard?lang={lang}")
    page.fill("#key", key)
    page.click("#sign-in")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(page.locator(".timer")).to_have_count(30)
    return page


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_dashboard_with_30_timers_is_under_3000_px_tall_at_1280(
        browser: Browser, newcomer: tuple[Server, str, str], lang: str) -> None:
    server, key, _ = newcomer
    with opened_context(browser, viewport={"width": 1280, "height": 800}) as context:
        page = _signed_in(context, server, key, lang)
        expect(page.locator(".timer .round:not(:empty)").first).to_be_visible()
        assert page.evaluate(ONE_LINE) == []
        assert page.evaluate("document.documentElement.scrollHeight") < 3000
        with client(server, key) as api:
            oldest_first = [t["id"] for t in api.get("/timers?limit=100").json()["data"]]
        shown = [page.locator(".timer").nth(n).get_attribute("data-timer-id") for n in range(30)]
        assert shown == oldest_first[::-1]  # newest first
        # Search and filter by state narrow the list; the full card comes on demand.
        page.fill("#timer-search", "keynote")
        expect(page.locator(".timer:visible")).to_have_count(1)
        page.fill("#timer-search", "workshop forms")
        expect(page.locator(".timer:visible")).to_have_count(10)
        page.fill("#timer-search", "")
        page.select_option("#timer-filter", "running")
        expect(page.locator(".timer:visible")).to_have_count(3 + EVENTS_MADE)
        page.select_option("#timer-filter", "completed")
        expect(page.locator("#no-matches")).to_be_visible()


@pytest.mark.parametrize("width", [1920, 2560])
def test_the_timer_list_uses_the_width_of_a_wide_screen(
        browser: Browser, newcomer: tuple[Server, str, str], width: int) -> None:
    server, key, _ = newcomer
    with opened_context(browser, viewport={"width": width, "height": 1080}) as context:
        page = _signed_in(context, server, key, "en")
        timers = page.locator("#timers").bounding_box()
        assert timers and timers["width"] > width * 0.55, timers
        assert page.evaluate(ONE_LINE) == []


def test_each_timer_type_and_plan_has_one_name_per_language(
        browser: Browser, newcomer: tuple[Server, str, str]) -> None:
    """The create form, the timer list and the embed generator call a type by the same word;
    plan names are product names, the same in every language."""
    server, key, _ = newcomer
    for lang in i18n.LANGUAGES:
        with opened_context(browser, viewport={"width": 1280, "height": 800}) as context:
            page = _signed_in(context, server, key, lang)
            expect(page.locator("#plan")).to_have_text("Enterprise")
            for kind in ("countdown", "event", "interval"):
                word = page.locator(f'#create [name=type] option[value="{kind}"]').text_content()
                shown = {page.locator(".timer .type").nth(n).inner_text() for n in range(30)}
                assert word in shown, (lang, kind, word, shown)
                embed = context.new_page()
                embed.goto(f"{server.base}/embed?lang={lang}")
                assert embed.locator(f'#type option[value="{kind}"]').text_content() == word
                embed.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_the_landing_page_cards_keep_their_name_and_note_together(
        browser: Browser, newcomer: tuple[Server, str, str], width: int) -> None:
    """Cards of a row are as tall as the tallest: a shorter one's note stays under its name."""
    server, _, _ = newcomer
    with opened_context(browser, viewport={"width": width, "height": 800}) as context:
        page = context.new_page()
        page.goto(f"{server.base}/?lang=de")
        # Between the texts themselves: a stretched grid row makes the name's box taller.
        gaps = page.evaluate("""() => Array.from(document.querySelectorAll('.cards a')).map((a) => {
          const box = (el) => { const r = document.createRange(); r.selectNodeContents(el);
                                return r.getBoundingClientRect(); };
          return box(a.querySelector('span')).top - box(a.querySelector('strong')).bottom;
        })""")
        assert len(gaps) == 4 and max(gaps) < 10, gaps


def _english_left(page: Page, lang: str) -> list[str]:
    """Texts on the page (text nodes, placeholders, labels, titles) that are an English
    catalog text where this language has its own."""
    english = set(i18n.CATALOGS["en"].values()) - set(i18n.CATALOGS[lang].values())
    shown = page.evaluate("""() => {
      const texts = [];
      const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const parent = n.parentElement;
        if (parent && !['SCRIPT', 'STYLE', 'TEMPLATE'].includes(parent.tagName)) {
          texts.push(n.textContent.trim());
        }
      }
      for (const el of document.querySelectorAll('[placeholder], [aria-label], [title]')) {
        for (const name of ['placeholder', 'aria-label', 'title']) {
          if (el.getAttribute(name)) texts.push(el.getAttribute(name).trim());
        }
      }
      for (const t of document.querySelectorAll('template')) {
        texts.push(...t.innerHTML.split(/<[^>]+>/).map((s) => s.trim()));
      }
      return texts.filter(Boolean);
    }""")
    return sorted({text for text in shown if text in english})


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_no_page_shows_an_english_string_in_another_language(
        browser: Browser, newcomer: tuple[Server, str, str], lang: str) -> None:
    server, key, control = newcomer
    base, _, fragment = control.partition("#")
    with opened_context(browser, viewport={"width": 1280, "height": 800}) as context:
        page = context.new_page()
        for path in (f"/?lang={lang}", f"/embed?lang={lang}", f"{base[len(server.base):]}"
                     f"?lang={lang}#{fragment}", f"/widget?type=interval&lang={lang}",
                     f"/dashboard?lang={lang}"):
            page.goto(server.base + path)
            page.wait_for_load_state("networkidle")
            assert _english_left(page, lang) == [], path
        page.fill("#key", key)
        page.click("#sign-in")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        card = page.locator(".timer", has_text="Keynote")
        card.locator(".toggle-details").click()
        card.locator(".webhooks summary").click()
        expect(card.locator(".delivery").first).to_be_visible()
        assert _english_left(page, lang) == [], "/dashboard signed in"
        assert httpx.get(f"{server.base}/?lang={lang}").status_code == 200
