"""A show's presenter page (/control/rnd_…) in Chromium against a real server: the running
order with planned and actual time and the over/under of each timer run, next and previous,
start and pause of the current timer, its message and blackout; every change checked through
the REST API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import opened_context
from tests.browser.test_live import create
from tests.browser.test_pages import wait_for

MINUS = "\u2212"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SHOTS = Path("/tmp/shots-rdcontrol")


def rundown(api: httpx.Client, timer_ids: list[str], **fields: Any) -> dict[str, Any]:
    response = api.post("/rundowns", json={"title": "Morning keynote", "timers": timer_ids,
                                           **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def open_show(page: Page, show: dict[str, Any], lang: str = "") -> None:
    base, _, fragment = show["urls"]["control"].partition("#")
    page.goto(f"{base}{'?lang=' + lang if lang else ''}#{fragment}")
    expect(page.locator("body")).to_have_attribute("data-connection", "live")


def row(page: Page, timer_id: str) -> Any:
    return page.locator(f'#items tr[data-timer-id="{timer_id}"]')


def current_of(api: httpx.Client, show: dict[str, Any]) -> str | None:
    return api.get(f"/rundowns/{show['id']}").json()["current"]


def test_finished_timers_show_their_actual_time_and_over_under(browser: Browser,
                                                                api: httpx.Client) -> None:
    first = create(api, duration=1, title="Opening")
    second = create(api, duration=10, title="Keynote")
    third = create(api, duration=60, title="Questions")
    show = rundown(api, [first["id"], second["id"], third["id"]])
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        expect(row(page, first["id"])).to_have_attribute("data-role", "current")
        expect(row(page, first["id"]).locator(".planned")).to_have_text("0:01")
        expect(row(page, second["id"])).to_have_attribute("data-role", "next")
        page.click("#start")
        wait_for(api, first["id"], lambda t: t["state"] == "running")
        assert api.post(f"/timers/{first['id']}/adjust", json={"seconds": 2}).status_code == 200
        wait_for(api, first["id"], lambda t: t["state"] == "completed")
        # The end of the current timer is news on its socket: the list reads it at once.
        expect(row(page, first["id"]).locator(".actual")).to_have_text("0:03")
        expect(row(page, first["id"]).locator(".over-under")).to_have_text("+0:02")
        expect(row(page, first["id"]).locator(".over-under")).to_have_attribute("data-sign",
                                                                                 "over")
        page.click("#next")
        expect(row(page, second["id"])).to_have_attribute("data-role", "current")
        wait_for(api, second["id"], lambda t: t["state"] == "running")
        page.click("#next")  # the keynote cut short: stopped at once, well under its plan
        expect(row(page, third["id"])).to_have_attribute("data-role", "current")
        under = row(page, second["id"]).locator(".over-under")
        expect(under).to_have_text(re.compile(f"^{MINUS}0:(09|10)$"))
        expect(under).to_have_attribute("data-sign", "under")
        assert api.get(f"/timers/{second['id']}").json()["state"] == "completed"
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SHOTS / "presenter-phone.png", full_page=True)


def test_an_auto_advancing_show_is_followed_to_its_end(browser: Browser,
                                                      api: httpx.Client) -> None:
    ids = [create(api, duration=1, title=f"Round {n}")["id"] for n in (1, 2)]
    show = rundown(api, ids, auto_advance=True)
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        expect(page.locator("#show-done")).to_be_hidden()
        page.click("#start")
        # Nobody touches the page: the show moves on by itself, and the page with it.
        expect(row(page, ids[1])).to_have_attribute("data-role", "current", timeout=5000)
        expect(page.locator("#title")).to_have_text("Round 2")
        expect(page.locator("#show-done")).to_be_visible(timeout=5000)
        for timer_id in ids:  # each ran its second exactly: on time
            expect(row(page, timer_id).locator(".over-under")).to_have_text("0:00")
            expect(row(page, timer_id).locator(".over-under")).to_have_attribute("data-sign", "")


def test_next_and_previous_move_the_show(browser: Browser, api: httpx.Client) -> None:
    ids = [create(api, duration=60, title=f"Part {n}")["id"] for n in (1, 2, 3)]
    show = rundown(api, ids)
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        expect(page.locator("#previous")).to_be_disabled()
        expect(page.locator("#position")).to_have_text("1 of 3")
        page.click("#next")
        expect(row(page, ids[1])).to_have_attribute("data-role", "current")
        assert current_of(api, show) == ids[1]
        assert api.get(f"/timers/{ids[1]}").json()["state"] == "running"
        expect(page.locator("#pause")).to_be_visible()
        page.click("#next")
        expect(row(page, ids[2])).to_have_attribute("data-role", "current")
        expect(page.locator("#next")).to_be_disabled()  # the last timer: nothing after it
        page.click("#previous")
        expect(row(page, ids[1])).to_have_attribute("data-role", "current")
        assert current_of(api, show) == ids[1]
        # A move made elsewhere (another presenter, a Stream Deck) shows here too.
        api.post(f"/rundowns/{show['id']}/advance", json={"to": ids[0]})
        expect(row(page, ids[0])).to_have_attribute("data-role", "current")
        expect(page.locator("#title")).to_have_text("Part 1")
        expect(page.locator("#previous")).to_be_disabled()


def test_start_and_pause_run_the_current_timer(browser: Browser, api: httpx.Client) -> None:
    ids = [create(api, duration=60, title=f"Talk {n}")["id"] for n in (1, 2)]
    show = rundown(api, ids)
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        page.click("#start")
        wait_for(api, ids[0], lambda t: t["state"] == "running")
        page.click("#pause")
        wait_for(api, ids[0], lambda t: t["state"] == "paused")
        expect(page.locator("#resume")).to_be_visible()
        page.click("#resume")
        wait_for(api, ids[0], lambda t: t["state"] == "running")
        assert api.get(f"/timers/{ids[1]}").json()["state"] == "idle"


def test_a_presentation_clicker_and_the_keyboard_run_the_show(browser: Browser,
                                                              api: httpx.Client) -> None:
    ids = [create(api, duration=60, title=f"Slide {n}")["id"] for n in (1, 2)]
    show = rundown(api, ids)
    with opened_context(browser, viewport={"width": 1280, "height": 800}) as context:
        page = context.new_page()
        moves: list[str] = []
        page.on("request", lambda r: moves.append(r.url) if r.url.endswith("/advance") else None)
        open_show(page, show)
        page.keyboard.press("PageDown")  # what a clicker's forward button sends
        expect(row(page, ids[1])).to_have_attribute("data-role", "current")
        assert current_of(api, show) == ids[1]
        expect(page.locator("#pause")).to_be_visible()
        page.keyboard.press(" ")
        wait_for(api, ids[1], lambda t: t["state"] == "paused")
        page.keyboard.press("b")
        wait_for(api, ids[1], lambda t: t["blackout"] is True)
        page.keyboard.press("PageUp")
        expect(row(page, ids[0])).to_have_attribute("data-role", "current")
        assert current_of(api, show) == ids[0]
        # Typing a message is typing: the keys do not move the show.
        page.fill("#message-text", "Hi")
        page.press("#message-text", "ArrowRight")
        page.press("#message-text", "PageDown")
        expect(page.locator("#message-text")).to_be_focused()
        page.click("#next")  # sent after anything those keys would have sent
        expect(row(page, ids[1])).to_have_attribute("data-role", "current")
        assert len(moves) == 3, moves


def test_message_and_blackout_reach_the_current_timer(browser: Browser,
                                                      api: httpx.Client) -> None:
    ids = [create(api, duration=60, title=f"Panel {n}")["id"] for n in (1, 2)]
    show = rundown(api, ids)
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        page.fill("#message-text", "Two minutes")
        page.click("#flash")
        page.click("#send-message")
        found = wait_for(api, ids[0], lambda t: t["message"] is not None)
        assert found["message"]["text"] == "Two minutes" and found["message"]["flash"] is True
        expect(page.locator("#on-screen-text")).to_have_text("Two minutes")
        page.click("#clear-message")
        wait_for(api, ids[0], lambda t: t["message"] is None)
        page.click("#blackout")
        wait_for(api, ids[0], lambda t: t["blackout"] is True)
        expect(page.locator("#blackout")).to_have_attribute("aria-pressed", "true")
        page.click("#blackout")
        wait_for(api, ids[0], lambda t: t["blackout"] is False)
        # After a move, the controls are the new current timer's.
        page.click("#next")
        expect(row(page, ids[1])).to_have_attribute("data-role", "current")
        expect(page.locator("#title")).to_have_text("Panel 2")
        page.fill("#message-text", "Next up: questions")
        page.click("#send-message")
        found = wait_for(api, ids[1], lambda t: t["message"] is not None)
        assert found["message"]["text"] == "Next up: questions"
        assert api.get(f"/timers/{ids[0]}").json()["message"] is None


def test_a_refused_move_is_said_beside_the_buttons(browser: Browser, api: httpx.Client) -> None:
    ids = [create(api, duration=60, title=f"Act {n}")["id"] for n in (1, 2)]
    show = rundown(api, ids)
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        open_show(page, show)
        # A page that missed a move (its socket was down) names the version it saw: its next
        # is refused, with the server's reason beside the buttons, rather than skip a timer.
        page.route("**/api/v1/rundowns/*/advance", lambda route: route.continue_(
            post_data='{"to": "next", "expected_version": 0}'))
        page.click("#next")
        expect(page.locator("#nav-error")).to_be_visible()
        expect(page.locator("#nav-error")).to_contain_text("Refused")
        assert current_of(api, show) == ids[0]
        # A token rotated while the page is open: its next move says the link is no longer good.
        page.unroute("**/api/v1/rundowns/*/advance")
        api.post(f"/rundowns/{show['id']}/control-token/rotate")
        page.click("#next")
        expect(page.locator("#nav-error")).to_contain_text("no longer valid")
        assert current_of(api, show) == ids[0]


def test_a_wrong_token_is_said_on_the_page(browser: Browser, api: httpx.Client) -> None:
    ids = [create(api, duration=60)["id"]]
    show = rundown(api, ids)
    base = show["urls"]["control"].partition("#")[0]
    with opened_context(browser, **PHONE) as context:
        page = context.new_page()
        page.goto(f"{base}?lang=de#token=ctl_0123456789abcdefWRONG")
        expect(page.locator("#nav-error")).to_have_text(
            "Dieser Steuerlink ist nicht mehr gültig: Das Token ist falsch oder wurde erneuert.")
        expect(page.locator("#items tbody tr")).to_have_count(0)


@pytest.mark.parametrize(("options", "lang", "name"), [
    (PHONE, "ja", "presenter-phone-ja"), (DESKTOP, "en", "presenter-desktop")])
def test_screenshots(browser: Browser, api: httpx.Client, options: dict[str, Any], lang: str,
                     name: str) -> None:
    ids = [create(api, duration=d, title=t)["id"] for d, t in
           [(1, "Doors and welcome"), (300, "Keynote: the year ahead"), (600, "Panel"),
            (120, "Closing")]]
    show = rundown(api, ids)
    api.patch(f"/timers/{ids[0]}/state", json={"action": "start"})
    api.post(f"/timers/{ids[0]}/adjust", json={"seconds": 1})
    wait_for(api, ids[0], lambda t: t["state"] == "completed")
    api.post(f"/rundowns/{show['id']}/advance", json={"to": "next"})
    api.put(f"/timers/{ids[1]}/message", json={"text": "Five minutes left"})
    with opened_context(browser, **options) as context:
        page = context.new_page()
        open_show(page, show, lang)
        expect(row(page, ids[0]).locator(".over-under")).to_have_text("+0:01")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
