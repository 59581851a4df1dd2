"""The dashboard's rundowns in Chromium against a real server: a show made from the account's
timers, reordered, trimmed, added to and deleted in the page, each change confirmed through
the REST API; and its links open its presenter page, stage display and widget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import opened_context
from tests.browser.test_dashboard import PHONE, XSS, account_key, confirm, sign_in
from tests.conftest import sqlite_url
from tests.servers import Server, client

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
SHOTS = Path("/tmp/shots-rdcontrol")


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("rundowns")
    running = Server(sqlite_url(workdir), workdir).start()
    yield running
    running.stop()


def timers(api: httpx.Client, *titles: str) -> list[str]:
    made = [api.post("/timers", json={"type": "countdown", "duration": 300, "title": title})
            for title in titles]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    return [r.json()["id"] for r in made]


def rundowns_of(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get("/rundowns").json()["data"])


def order_of(api: httpx.Client, rundown_id: str, before: int) -> list[str]:
    """The rundown's timers once its version passed `before` (the page's change landed)."""
    deadline = time.monotonic() + 5
    while True:
        found = api.get(f"/rundowns/{rundown_id}").json()
        if found["version"] > before or time.monotonic() > deadline:
            return list(found["timers"])
        time.sleep(0.05)


def test_a_rundown_is_made_reordered_trimmed_and_deleted_in_the_page(browser: Browser,
                                                                     dash: Server) -> None:
    key = account_key(dash, f"show-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, **PHONE) as context:
        ids = timers(api, "Welcome", XSS, "Keynote", "Questions")
        page = sign_in(context, dash, key)
        expect(page.locator("#no-rundowns")).to_be_visible()
        page.click("#rundown-panel summary")
        picks = page.locator("#rundown-picks input")
        expect(picks).to_have_count(4)
        # Nothing ticked: said beside the list, and nothing sent.
        page.click("#create-rundown-button")
        expect(page.locator('#create-rundown [data-error="timers"]')).to_be_visible()
        assert rundowns_of(api) == []
        page.fill("#create-rundown [name=title]", "Morning show")
        for timer_id in (ids[0], ids[2], ids[3]):
            page.check(f'#rundown-picks input[value="{timer_id}"]')
        page.check("#create-rundown [name=auto_advance]")
        page.click("#create-rundown-button")
        card = page.locator(".rundown")
        expect(card).to_have_count(1)
        [made] = rundowns_of(api)
        assert (made["title"], made["timers"], made["auto_advance"]) == (
            "Morning show", [ids[0], ids[2], ids[3]], True)
        expect(card.locator(".title")).to_have_text("Morning show")
        expect(card.locator(".auto")).to_be_visible()
        names = card.locator(".rundown-timer .name")
        expect(names).to_have_text(["Welcome", "Keynote", "Questions"])
        expect(card.locator(".rundown-timer").first.locator(".up")).to_be_disabled()
        expect(card.locator(".rundown-timer").last.locator(".down")).to_be_disabled()

        card.locator(f'.rundown-timer[data-timer-id="{ids[3]}"] .up').click()
        expect(names).to_have_text(["Welcome", "Questions", "Keynote"])
        assert order_of(api, made["id"], made["version"]) == [ids[0], ids[3], ids[2]]
        card.locator(f'.rundown-timer[data-timer-id="{ids[0]}"] .down').click()
        expect(names).to_have_text(["Questions", "Welcome", "Keynote"])
        version = api.get(f"/rundowns/{made['id']}").json()["version"]
        card.locator(f'.rundown-timer[data-timer-id="{ids[0]}"] .remove').click()
        expect(names).to_have_text(["Questions", "Keynote"])
        assert order_of(api, made["id"], version) == [ids[3], ids[2]]
        # The timer left out can be added back, at the end; its title stays text.
        version = api.get(f"/rundowns/{made['id']}").json()["version"]
        card.locator(".add-timer").select_option(ids[1])
        card.locator(".add").click()
        expect(names).to_have_text(["Questions", "Keynote", XSS])
        assert order_of(api, made["id"], version) == [ids[3], ids[2], ids[1]]
        assert page.dialogs == []  # type: ignore[attr-defined]

        # A change the server refuses is said on the rundown (another tab moved it first).
        api.patch(f"/rundowns/{made['id']}", json={"title": "Renamed elsewhere"})
        card.locator(f'.rundown-timer[data-timer-id="{ids[1]}"] .up').click()
        expect(card.locator(".message")).to_be_visible()
        assert api.get(f"/rundowns/{made['id']}").json()["timers"] == [ids[3], ids[2], ids[1]]

        confirm(card.locator(".delete"))
        expect(card).to_have_count(0)
        expect(page.locator("#no-rundowns")).to_be_visible()
        assert api.get(f"/rundowns/{made['id']}").status_code == 404
        assert all(api.get(f"/timers/{i}").status_code == 200 for i in ids)  # timers stay


def test_the_rundowns_links_open_its_pages(browser: Browser, dash: Server) -> None:
    key = account_key(dash, f"links-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, **DESKTOP) as context:
        ids = timers(api, "Opening", "Talk")
        made = api.post("/rundowns", json={"title": "Evening", "timers": ids}).json()
        page = sign_in(context, dash, key)
        card = page.locator(f'.rundown[data-rundown-id="{made["id"]}"]')
        for selector, url in ((".stage-link", made["urls"]["stage"]),
                              (".widget-link", made["urls"]["widget"])):
            assert card.locator(selector).get_attribute("href") == url
        # The presenter link carries the show's control token: not in the page until opened.
        assert made["urls"]["control"].split("#token=")[1] not in page.content()
        with context.expect_page() as opened:
            card.locator(".presenter-link").click()
        presenter = opened.value
        expect(presenter.locator("body")).to_have_attribute("data-connection", "live")
        assert presenter.url == made["urls"]["control"]
        expect(presenter.locator("#items tbody tr")).to_have_count(2)
        presenter.click("#start")
        deadline = time.monotonic() + 5
        while api.get(f"/timers/{ids[0]}").json()["state"] != "running":
            assert time.monotonic() < deadline, "the opened presenter page did not start it"
            time.sleep(0.05)
        presenter.close()
        for selector in (".stage-link", ".widget-link"):
            with context.expect_page() as opened:
                card.locator(selector).click()
            shown = opened.value
            shown.wait_for_load_state()
            assert shown.url == card.locator(selector).get_attribute("href")
            shown.close()


@pytest.mark.parametrize(("options", "lang", "name"), [
    (PHONE, "ja", "dashboard-phone-ja"), (DESKTOP, "en", "dashboard-desktop")])
def test_screenshots(browser: Browser, dash: Server, options: dict[str, Any], lang: str,
                     name: str) -> None:
    key = account_key(dash, f"shots-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, **options,
                                                  locale=lang) as context:
        ids = timers(api, "Doors and welcome", "Keynote: the year ahead", "Panel", "Closing")
        api.post("/rundowns", json={"title": "Morning keynote", "timers": ids,
                                    "auto_advance": True})
        page = sign_in(context, dash, key)
        page.click("#rundown-panel summary")
        expect(page.locator("#rundown-picks input")).to_have_count(4)
        SHOTS.mkdir(exist_ok=True)
        page.locator("#rundowns").screenshot(path=SHOTS / f"{name}.png")
        page.screenshot(path=SHOTS / f"{name}-page.png")
