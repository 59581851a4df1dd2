"""The embed generator and the presenter page in Chromium, and untrusted titles on every page."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from server import i18n, timers
from tests.browser.conftest import HostSite, opened_context
from tests.browser.test_live import create, shown
from tests.servers import Server

XSS = "<img src=x onerror=alert(1)>"


def wait_for(api: httpx.Client, timer_id: str, check: Any) -> dict[str, Any]:
    """The timer as REST shows it, once `check(timer)` holds (a presenter's command takes a
    round trip to land)."""
    deadline = time.monotonic() + 5
    while True:
        timer = dict(api.get(f"/timers/{timer_id}").json())
        if check(timer) or time.monotonic() > deadline:
            return timer
        time.sleep(0.05)


def appearance(frame: Any) -> dict[str, Any]:
    return dict(frame.evaluate("""() => ({
      lang: document.documentElement.lang,
      title: document.querySelector('#title').textContent,
      round: document.querySelector('#round').textContent,
      background: getComputedStyle(document.body).backgroundColor,
      color: getComputedStyle(document.querySelector('#time')).color,
      brand: !!document.querySelector('#brand'),
      width: innerWidth, height: innerHeight,
    })"""))


def test_the_copied_embed_code_shows_the_same_widget_as_the_preview(
        browser: Browser, site: Server, host_site: HostSite) -> None:
    with opened_context(browser, viewport={"width": 1200, "height": 1000}) as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{site.base}/embed?lang=fr")
        expect(page.locator("h1")).to_have_text("Générateur de code d’intégration")  # noqa: RUF001
        page.select_option("#type", "interval")
        page.fill("#work", "40")
        page.fill("#rounds", "5")
        page.fill("#title", "Séance du matin")
        page.select_option("#theme", "light")
        page.fill("#primary_color", "0A0")
        page.select_option("#lang", "de")
        page.uncheck("#show_brand")
        page.fill("#width", "320")
        page.fill("#height", "240")
        preview = page.frame_locator("#preview")
        expect(preview.locator("#round")).to_have_text("Runde 1 von 5 · Belastung")
        page.click("#copy")
        expect(page.locator("#copied")).to_have_text("Copié !")
        code = page.evaluate("navigator.clipboard.readText()")
        assert code == page.locator("#code").input_value()
        assert code.startswith("<iframe src=\"" + site.base + "/widget?type=interval&amp;")
        assert 'style="width:320px;height:240px;border:none;"' in code

        preview_frame = page.frame(url=lambda url: "/widget?" in url)
        assert preview_frame is not None
        seen_in_preview = appearance(preview_frame)

        host = context.new_page()
        host.goto(host_site.put("/copied.html", f"<!doctype html><body>{code}</body>"))
        expect(host.frame_locator("iframe").locator("#round")).to_have_text(
            "Runde 1 von 5 · Belastung")
        copied = host.frame(url=lambda url: "/widget?" in url)
        assert copied is not None
        assert copied.url == preview_frame.url
        assert appearance(copied) == seen_in_preview
        assert seen_in_preview["color"] == "rgb(0, 170, 0)"
        assert seen_in_preview["brand"]  # a standalone widget keeps the branding
        assert (seen_in_preview["width"], seen_in_preview["height"]) == (320, 240)
        # Everything the generator and its preview loaded came from Castimer itself.
        assert requests and all(url.startswith(site.base + "/") for url in requests), requests


@pytest.mark.parametrize("lang", ["en", "zh", "ja", "es", "fr", "de", "ko"])
def test_the_embed_generator_speaks_every_language(page: Page, site: Server, lang: str) -> None:
    page.set_extra_http_headers({"Accept-Language": f"{lang},en;q=0.5"})
    page.goto(f"{site.base}/embed")
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("#copy")).to_have_text(
        {"en": "Copy code", "zh": "复制代码", "ja": "コードをコピー", "es": "Copiar código",
         "fr": "Copier le code", "de": "Code kopieren", "ko": "코드 복사"}[lang])
    # The preview speaks the page's language too, until someone picks another. The code is
    # written once the server has checked the settings: wait for it.
    expect(page.locator("#code")).to_have_value(re.compile(r"/widget\?"))
    if lang != "en":
        expect(page.locator("#code")).to_have_value(re.compile(f"lang={lang}"))


def test_presenter_buttons_and_keys_change_the_timer(browser: Browser, site: Server,
                                                     api: httpx.Client) -> None:
    timer = create(api, duration=300, title="All hands")
    # A phone-sized screen.
    with opened_context(browser, viewport={"width": 390, "height": 700}, has_touch=True) as context:
        page = context.new_page()
        page.goto(timer["urls"]["control"])
        expect(page.locator("body")).to_have_attribute("data-connection", "live")
        expect(page.locator("#title")).to_have_text("All hands")
        expect(page.locator("#time")).to_have_text("05:00")
        expect(page.locator("#sync")).to_have_text(re.compile(r"^Clock sync ±\d+ ms$"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.click("#start")
        assert wait_for(api, timer["id"], lambda t: t["state"] == "running")["state"] == "running"
        page.click("#pause")
        assert wait_for(api, timer["id"], lambda t: t["state"] == "paused")["state"] == "paused"
        expect(page.locator("body")).to_have_attribute("data-state", "paused")
        page.keyboard.press(" ")
        assert wait_for(api, timer["id"], lambda t: t["state"] == "running")["state"] == "running"
        # Space toggles what the page shows, so let the page hear of the resume first.
        expect(page.locator("body")).to_have_attribute("data-state", "running")
        page.keyboard.press(" ")
        paused = wait_for(api, timer["id"], lambda t: t["state"] == "paused")
        assert paused["state"] == "paused"

        page.keyboard.press("ArrowRight")
        assert wait_for(api, timer["id"], lambda t: t["adjustment"] == 10)["adjustment"] == 10
        page.keyboard.press("ArrowUp")
        assert wait_for(api, timer["id"], lambda t: t["adjustment"] == 70)["adjustment"] == 70
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowDown")
        assert wait_for(api, timer["id"], lambda t: t["adjustment"] == 0)["adjustment"] == 0
        page.click("text=+1 min")  # buttons by their label, as people find them
        after = wait_for(api, timer["id"], lambda t: t["adjustment"] == 60)
        assert after["remaining_ms"] == paused["remaining_ms"] + 60_000
        page.click("[data-seconds='-10']")
        assert wait_for(api, timer["id"], lambda t: t["adjustment"] == 50)["adjustment"] == 50
        expect(page.locator("#time")).to_have_text(shown(after["remaining_ms"] - 10_000))

        page.keyboard.press("r")  # asks first, as the reset button does
        expect(page.locator("#reset")).to_have_text("Tap again to reset")
        assert api.get(f"/timers/{timer['id']}").json()["state"] == "paused"
        page.keyboard.press("r")
        assert wait_for(api, timer["id"], lambda t: t["state"] == "idle")["state"] == "idle"
        expect(page.locator("#time")).to_have_text("05:00")
        expect(page.locator("#start")).to_be_enabled()
        expect(page.locator("#pause")).to_be_disabled()


def test_the_presenter_page_needs_the_token_in_the_fragment(page: Page, site: Server,
                                                            api: httpx.Client) -> None:
    timer = create(api, duration=60)
    control = timer["urls"]["control"]
    base, _, fragment = control.partition("#")
    page.goto(f"{base}?{fragment}")  # the token in the query is not looked at
    expect(page.locator("#notice")).to_have_text(
        "This link has no control token. Open the control URL exactly as the API returned it.")
    expect(page.locator("#sync")).to_be_hidden()
    page.goto(f"{base}#token=ctl_wrong")
    expect(page.locator("#notice")).to_have_text(
        "This control link is no longer valid: the token is wrong or was rotated.")
    assert api.get(f"/timers/{timer['id']}").json()["state"] == "idle"


def _no_markup_ran(page: Page, dialogs: list[str]) -> None:
    assert dialogs == []
    for frame in page.frames:
        assert frame.evaluate("document.querySelectorAll('img').length") == 0, frame.url


def test_a_hostile_title_is_text_on_every_page(context: BrowserContext, site: Server,
                                               api: httpx.Client) -> None:
    timer = create(api, duration=60, title=XSS)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{site.base}/widget?timer={timer['id']}")
    expect(page.locator("#title")).to_have_text(XSS)
    page.goto(f"{site.base}/widget?duration=60&title={XSS}")
    expect(page.locator("#title")).to_have_text(XSS)
    assert page.title() == XSS
    _no_markup_ran(page, dialogs)

    page.goto(f"{site.base}/widget?primary_color={XSS}")
    expect(page.locator(".problem p")).to_contain_text(XSS[:40])
    _no_markup_ran(page, dialogs)

    page.goto(timer["urls"]["control"])
    expect(page.locator("#title")).to_have_text(XSS)
    _no_markup_ran(page, dialogs)

    page.goto(f"{site.base}/embed")
    page.fill("#title", XSS)
    expect(page.frame_locator("#preview").locator("#title")).to_have_text(XSS)
    assert 'title="&lt;img src=x onerror=alert(1)&gt;"' in page.locator("#code").input_value()
    _no_markup_ran(page, dialogs)

    # Even with a live timer in the preview.
    page.fill("#timer", timer["id"])
    page.fill("#title", "")
    expect(page.frame_locator("#preview").locator("#title")).to_have_text(XSS)
    _no_markup_ran(page, dialogs)


def test_the_embed_code_keeps_the_frame_within_the_allowed_sizes(page: Page,
                                                                 site: Server) -> None:
    page.goto(f"{site.base}/embed")
    page.fill("#width", "200")
    page.fill("#height", "300")
    expect(page.locator("#code")).to_have_value(
        re.compile(r'style="width:200px;height:300px;border:none;"'))
    for width, height in (("5000", "50"), ("20", "900")):
        page.fill("#width", width)
        page.fill("#height", height)
        expect(page.locator('[data-error="width"]')).to_have_text(
            f"width must be a whole number from 100 to 600; got “{width}”.")
        expect(page.locator('[data-error="height"]')).to_contain_text("from 200 to 600")
        expect(page.locator("#code")).to_have_value(
            re.compile(r'style="width:200px;height:300px;border:none;"'))
    assert page.locator("#preview").evaluate("el => [el.clientWidth, el.clientHeight]") == [
        200, 300]


def _settled(page: Page) -> None:
    expect(page.locator("#settings")).not_to_have_attribute("data-checking", "true")


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("#primary_color", "zz", i18n.text("fr", "error.color", param="primary_color", value="zz")),
    ("#duration", "-5", i18n.text("fr", "error.integer", param="duration", min=1,
                                  max=timers.MAX_TOTAL_S, value="-5")),
    ("#timer", "abc", i18n.text("fr", "error.timer_id", param="timer", value="abc")),
])
def test_an_invalid_value_flags_its_field_and_the_copied_code_is_the_last_valid_one(
        browser: Browser, site: Server, field: str, bad: str, message: str) -> None:
    with opened_context(browser, viewport={"width": 1200, "height": 1000}) as context:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.base)
        page = context.new_page()
        page.goto(f"{site.base}/embed?lang=fr")
        page.fill("#title", "Valide")
        expect(page.locator("#code")).to_have_value(re.compile("title=Valide"))
        _settled(page)
        valid = page.locator("#code").input_value()
        page.fill(field, bad)
        slot = page.locator(f'[data-error="{field[1:]}"]')
        expect(slot).to_have_text(message)
        expect(page.locator(field)).to_have_attribute("aria-invalid", "")
        expect(page.locator("#stale")).to_be_visible()
        page.click("#copy")
        expect(page.locator("#copied")).to_have_text("Copié !")
        assert page.evaluate("navigator.clipboard.readText()") == valid
        assert bad not in valid
        # A live timer id entered after a bad colour does not let the colour through.
        if field == "#primary_color":
            page.fill("#timer", "tmr_abc")
            _settled(page)
            expect(slot).to_be_visible()
            assert page.locator("#code").input_value() == valid
        page.fill(field, {"#primary_color": "0A0", "#duration": "90", "#timer": "tmr_abc"}[field])
        expect(slot).to_be_hidden()
        expect(page.locator("#stale")).to_be_hidden()
        expect(page.locator("#code")).not_to_have_value(valid)
        assert "zz" not in page.locator("#code").input_value()


def test_the_event_date_comes_from_a_picker_with_the_browsers_offset(browser: Browser,
                                                                     site: Server) -> None:
    with opened_context(browser, viewport={"width": 1200, "height": 1000},
                        timezone_id="Europe/Paris") as context:
        page = context.new_page()
        page.goto(f"{site.base}/embed")
        page.select_option("#type", "event")
        assert page.locator("#target_date").get_attribute("type") == "datetime-local"
        page.fill("#target_date", "2031-01-02T03:04:05")
        page.fill("#timezone", "Asia/Tokyo")
        expect(page.locator("#code")).to_have_value(re.compile(
            r"target_date=2031-01-02T03%3A04%3A05%2B01%3A00&amp;timezone=Asia%2FTokyo"))
        expect(page.frame_locator("#preview").locator("#time")).not_to_be_empty()
        page.fill("#timezone", "Moon/Base")
        expect(page.locator('[data-error="timezone"]')).to_contain_text("IANA")
        page.fill("#target_date", "")
        expect(page.locator('[data-error="target_date"]')).to_have_text(
            "target_date is required for event timers.")
        expect(page.locator("#code")).to_have_value(re.compile("timezone=Asia%2FTokyo"))
        # The whole code is in view: the box is as tall as its text.
        page.fill("#title", "A long title " * 12)
        page.fill("#target_date", "2031-01-02T03:04:05")
        page.fill("#timezone", "UTC")
        expect(page.locator("#code")).to_have_value(re.compile("A\\+long"))
        _settled(page)
        assert page.locator("#code").evaluate("el => el.scrollHeight <= el.clientHeight + 2")


def test_the_presenter_page_speaks_the_chosen_language(page: Page, site: Server,
                                                       api: httpx.Client) -> None:
    timer = create(api, type="interval", rounds=3)
    base, _, fragment = timer["urls"]["control"].partition("#")
    page.goto(f"{base}?lang=ko#{fragment}")
    expect(page.locator("#connection")).to_have_text("연결됨")
    expect(page.locator("#start")).to_have_text("시작")
    expect(page.locator("#round")).to_have_text("3라운드 중 1라운드 · 운동")
    expect(page.locator("#state")).to_have_text("준비")
    expect(page.locator("[data-preset=questions]")).to_have_text("질문 시간")
    expect(page.locator("#viewers")).to_have_text("시청자: 0")
