"""The live room's fields on the dashboard in Chromium: overtime, warn_at, danger_at and
blackout set from the forms (the REST API confirms each), and a timer's card showing its level,
its message, its blackout, its viewer count and its stage display's link."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, expect

from tests.browser.conftest import opened_context
from tests.browser.test_dashboard import PHONE, XSS, account_key, sign_in
from tests.browser.test_live import open_live
from tests.browser.test_pages import wait_for
from tests.servers import Server, client

MINUS = "\u2212"


def test_the_forms_set_overtime_thresholds_and_blackout(browser: Browser, site: Server) -> None:
    key = account_key(site, f"room-{time.time_ns()}")
    with client(site, key) as api, opened_context(browser, **PHONE) as context:
        page = sign_in(context, site, key)
        create = page.locator("#create")
        create.locator("[name=duration]").fill("120")
        create.locator("[name=overtime]").check()
        create.locator("[name=warn_at]").fill("20")
        create.locator("[name=danger_at]").fill("10")
        create.locator("#create-timer").click()
        card = page.locator(".timer")
        expect(card).to_have_count(1)
        card.locator(".toggle-details").click()
        timer_id = card.get_attribute("data-timer-id")
        made = api.get(f"/timers/{timer_id}").json()
        assert (made["overtime"], made["warn_at"], made["danger_at"], made["blackout"]) == (
            True, 20, 10, False)

        card.locator(".edit summary").click()
        edit = card.locator(".edit-form")
        assert edit.locator("[name=overtime]").is_checked()
        expect(edit.locator("[name=warn_at]")).to_have_value("20")
        edit.locator("[name=danger_at]").fill("40")  # above the warning: refused, and why
        edit.locator("button[type=submit]").click()
        expect(edit.locator('[data-error="danger_at"]')).to_contain_text("below warn_at")
        edit.locator("[name=warn_at]").fill("30")
        edit.locator("[name=danger_at]").fill("")  # none
        edit.locator("[name=overtime]").uncheck()
        edit.locator("[name=blackout]").check()
        edit.locator("button[type=submit]").click()
        edited = wait_for(api, timer_id, lambda t: t["blackout"])
        assert (edited["overtime"], edited["warn_at"], edited["danger_at"], edited["blackout"]) \
            == (False, 30, None, True)
        expect(card.locator(".blackout-on")).to_be_visible()

        card.locator(".edit summary").click()
        edit.locator("[name=blackout]").uncheck()
        edit.locator("button[type=submit]").click()
        assert wait_for(api, timer_id, lambda t: not t["blackout"])["blackout"] is False
        expect(card.locator(".blackout-on")).to_be_hidden()

        # An interval cannot count on past zero: the form does not offer it.
        create.locator("[name=type]").select_option("interval")
        expect(create.locator("[name=overtime]")).to_be_hidden()


def test_a_card_shows_level_message_viewers_and_the_stage_link(browser: Browser,
                                                               site: Server) -> None:
    key = account_key(site, f"card-{time.time_ns()}")
    with client(site, key) as api, opened_context(browser, viewport={
            "width": 1280, "height": 800}) as context:
        timer = api.post("/timers", json={"type": "countdown", "duration": 3, "warn_at": 2,
                                          "danger_at": 1, "overtime": True}).json()
        page = sign_in(context, site, key)
        card = page.locator(".timer")
        card.locator(".toggle-details").click()
        card.locator(".links summary").click()
        assert card.locator(".stage-url").input_value() == timer["urls"]["stage"]
        assert card.locator(".stage-link").get_attribute("href") == timer["urls"]["stage"]

        # The dashboard's own live connection is not one of the timer's viewers; a widget is.
        viewers = card.locator(".viewers")
        expect(viewers).to_have_text("Viewers: 0", timeout=4000)
        widget = context.new_page()
        open_live(widget, site, timer["id"])
        expect(viewers).to_have_text("Viewers: 1", timeout=4000)
        widget.close()
        expect(viewers).to_have_text("Viewers: 0", timeout=4000)

        api.put(f"/timers/{timer['id']}/message", json={"text": XSS})
        expect(card.locator(".on-screen")).to_have_text(f"On screen: {XSS}")
        assert page.locator(".timer img").count() == 0

        level = card.locator(".level")
        expect(level).to_be_hidden()
        api.patch(f"/timers/{timer['id']}/state", json={"action": "start"})
        expect(level).to_have_text("Warning", timeout=3000)
        warning = card.locator(".time").evaluate("el => getComputedStyle(el).color")
        expect(level).to_have_text("Danger", timeout=3000)
        danger = card.locator(".time").evaluate("el => getComputedStyle(el).color")
        assert warning != danger
        expect(card.locator(".state")).to_have_text("Overtime", timeout=3000)
        expect(level).to_be_hidden()  # the state says it
        assert card.get_attribute("data-level") == "overtime"
        expect(card.locator(".time")).to_have_text(MINUS + "00:01", timeout=3000)
        api.delete(f"/timers/{timer['id']}/message")
        expect(card.locator(".on-screen")).to_be_hidden()
