"""The dashboard in Chromium against a real `castimer serve` (its own store, so the key it
prints on first start is the one a new user has), with a real webhook receiver; every change
made in the page is confirmed through the REST API."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from server.accounts import hash_key
from tests.browser.conftest import HostSite, opened_context
from tests.browser.test_pages import wait_for
from tests.browser.test_widget import starts_words
from tests.conftest import sqlite_url
from tests.servers import Server, client
from tests.webhooks.conftest import HOOK_ENV
from tests.webhooks.receiver import Answer, Receiver

XSS = "<img src=x onerror=alert(1)>"
PHONE = {"viewport": {"width": 390, "height": 800}, "has_touch": True}


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on an empty store (it prints a development key), allowed to post webhooks to
    the loopback receiver on a retry schedule shrunk to seconds."""
    workdir = tmp_path_factory.mktemp("dashboard")
    running = Server(sqlite_url(workdir), workdir, env=HOOK_ENV).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def account_key(dash: Server, name: str) -> str:
    """A key for a new account called `name`, made by the CLI (Playwright's sync API holds
    this thread's event loop)."""
    made = subprocess.run([sys.executable, "-m", "server.cli", "keys", "create", "--account",
                           name, "--engine", dash.engine_url],
                          capture_output=True, text=True, check=True, cwd=dash.workdir)
    return made.stdout.strip()


def sign_in(context: BrowserContext, dash: Server, key: str) -> Page:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.goto(f"{dash.base}/dashboard")
    page.fill("#key", key)
    page.click("#sign-in")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    return page


def confirm(button: Any) -> None:
    """Destructive buttons act on the second click."""
    button.click()
    button.click()


def session_cookie(context: BrowserContext) -> str:
    [value] = [c["value"] for c in context.cookies() if c["name"] == "castimer_session"]
    return value


def test_a_new_user_signs_in_creates_a_countdown_starts_it_and_sees_it_count_down(
        browser: Browser, dash: Server) -> None:
    key = dash.printed_key()
    with client(dash, account_key(dash, "someone-else")) as stranger:
        theirs = stranger.post("/timers", json={"duration": 60, "title": "Not yours"}).json()
    with client(dash, key) as api, opened_context(browser, **PHONE) as context:
        page = sign_in(context, dash, key)
        expect(page.locator("#no-timers")).to_be_visible()
        # The API's validation message, next to the field it names.
        page.fill("#create [name=title]", XSS)
        page.fill("#create [name=duration]", "0")
        page.click("#create-timer")
        expect(page.locator('#create [data-error="duration"]')).to_have_text(
            "Duration (seconds) must be from 1 to 316,224,000.")
        assert api.get("/timers").json()["data"] == []
        page.fill("#create [name=duration]", "120")
        page.click("#create-timer")
        card = page.locator(".timer")
        expect(card).to_have_count(1)
        expect(page.locator('#create [data-error="duration"]')).to_be_hidden()
        # Shown at once: in view, its title focused, and announced.
        expect(card.locator(".title")).to_be_focused()
        expect(card).to_be_in_viewport()
        expect(page.locator("#created")).to_have_text(
            f"Timer “{XSS}” created; it is first in the list.")
        expect(card.locator(".more")).to_be_hidden()  # compact until asked
        card.locator(".toggle-details").click()
        expect(card.locator(".toggle-details")).to_have_attribute("aria-expanded", "true")
        timer_id = card.get_attribute("data-timer-id")
        made = api.get(f"/timers/{timer_id}").json()
        assert (made["type"], made["duration"], made["title"], made["state"]) == (
            "countdown", 120, XSS, "idle")
        expect(card.locator(".title")).to_have_text(XSS)
        expect(card.locator(".time")).to_have_text("02:00")

        card.locator("[data-command=start]").click()
        assert wait_for(api, timer_id, lambda t: t["state"] == "running")["state"] == "running"
        expect(card.locator(".state")).to_have_text("Running")
        # Live: the seconds go down with nothing clicked.
        expect(card.locator(".time")).to_have_text("01:59", timeout=3000)
        expect(card.locator(".time")).to_have_text("01:58", timeout=3000)

        card.locator("[data-command=pause]").click()
        paused = wait_for(api, timer_id, lambda t: t["state"] == "paused")
        assert paused["state"] == "paused"
        card.locator('[data-seconds="60"]').click()
        adjusted = wait_for(api, timer_id, lambda t: t["adjustment"] == 60)
        assert adjusted["remaining_ms"] == paused["remaining_ms"] + 60_000
        expect(card.locator(".time")).to_have_text(re.compile(r"^02:5\d$"))
        card.locator("[data-command=reset]").click()
        assert wait_for(api, timer_id, lambda t: t["state"] == "idle")["state"] == "idle"

        card.locator(".edit summary").click()
        card.locator(".edit-form [name=duration]").fill("90")
        card.locator(".edit-form [name=title]").fill("Stand-up " + XSS)
        card.locator(".edit-form button[type=submit]").click()
        edited = wait_for(api, timer_id, lambda t: t["duration"] == 90)
        assert (edited["duration"], edited["title"]) == (90, "Stand-up " + XSS)
        expect(card.locator(".title")).to_have_text("Stand-up " + XSS)
        expect(card.locator(".time")).to_have_text("01:30")

        # The links: the widget URL and embed code as text, the presenter link on request.
        card.locator(".links summary").click()
        assert card.locator(".widget-url").input_value() == made["urls"]["widget"]
        assert "&lt;img" in card.locator(".embed-code").input_value()
        token = made["urls"]["control"].split("#token=")[1]
        assert token not in page.content()
        card.locator(".reveal-control").click()
        expect(card.locator(".control-url")).to_have_text(made["urls"]["control"])
        confirm(card.locator(".rotate-control"))
        rotated = wait_for(api, timer_id,
                           lambda t: t["urls"]["control"] != made["urls"]["control"])
        expect(card.locator(".control-url")).to_have_text(rotated["urls"]["control"])

        # No user-set string became markup; another account's timer is nowhere.
        assert page.locator(".timer img, header img").count() == 0
        assert page.dialogs == []  # type: ignore[attr-defined]
        assert "Not yours" not in page.content() and theirs["id"] not in page.content()
        assert page.evaluate("id => fetch('/api/v1/timers/' + id).then(r => r.status)",
                             theirs["id"]) == 404

        confirm(card.locator(".delete"))
        expect(page.locator(".timer")).to_have_count(0)
        assert api.get(f"/timers/{timer_id}").status_code == 404
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_page_creates_event_and_interval_timers(browser: Browser, dash: Server) -> None:
    key = account_key(dash, f"types-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, **PHONE) as context:
        page = sign_in(context, dash, key)
        create = page.locator("#create")
        create.locator("[name=type]").select_option("event")
        expect(create.locator("[name=duration]")).to_be_hidden()
        create.locator("[name=target_date]").fill("last tuesday")
        create.locator("button[type=submit]").click()
        expect(create.locator('[data-error="target_date"]')).to_contain_text("target_date")
        create.locator("[name=target_date]").fill("2030-01-01T09:00:00Z")
        create.locator("[name=timezone]").fill("Europe/Paris")
        create.locator("button[type=submit]").click()
        expect(page.locator(".timer")).to_have_count(1)
        create.locator("[name=type]").select_option("interval")
        create.locator("[name=work]").fill("40")
        create.locator("[name=rounds]").fill("3")
        create.locator("button[type=submit]").click()
        expect(page.locator(".timer")).to_have_count(2)
        event, interval = api.get("/timers").json()["data"]  # oldest first
        assert (event["type"], event["target_date"], event["timezone"], event["state"]) == (
            "event", "2030-01-01T09:00:00Z", "Europe/Paris", "running")
        assert (interval["type"], interval["work"], interval["rest"], interval["rounds"]) == (
            "interval", 40, 10, 3)
        cards = page.locator(".timer")  # newest first
        assert [cards.nth(n).get_attribute("data-timer-id") for n in (0, 1)] == [
            interval["id"], event["id"]]
        expect(cards.nth(1).locator("[data-command=pause]")).to_be_disabled()
        expect(cards.nth(1).locator(".time")).to_contain_text("days")
        expect(cards.nth(0).locator(".round")).to_have_text("Round 1 of 3 · Work")
        expect(cards.nth(0).locator(".time")).to_have_text("00:40")
        # A change made elsewhere reaches the page over the live connection.
        api.patch(f"/timers/{interval['id']}/state", json={"action": "start"})
        expect(cards.nth(0).locator(".state")).to_have_text("Running")
        expect(cards.nth(0).locator(".time")).to_have_text("00:39", timeout=3000)


def test_send_test_reaches_the_receiver_and_a_failed_delivery_is_retried_from_the_page(
        browser: Browser, dash: Server, receiver: Receiver) -> None:
    key = account_key(dash, f"hooks-{time.time_ns()}")
    # Five failures use up the (shrunk) retry schedule; the receiver is fixed after that.
    receiver.answers["/fail"] = lambda count: (
        Answer(500, body=b"receiver broke") if count <= 5 else Answer())
    with client(dash, key) as api, opened_context(browser, viewport={
            "width": 1200, "height": 900}) as context:
        timer = api.post("/timers", json={"duration": 300, "title": "Hooks"}).json()
        page = sign_in(context, dash, key)
        card = page.locator(f'.timer[data-timer-id="{timer["id"]}"]')
        card.locator(".toggle-details").click()
        card.locator(".webhooks summary").click()
        hooks = card.locator(".webhook-form")
        hooks.locator("[name=webhook_url]").fill(receiver.url("/ok"))
        hooks.locator("[name=all_events]").uncheck()
        hooks.locator('[value="timer.completed"]').uncheck()
        hooks.locator("button[type=submit]").click()
        expect(card.locator(".saved")).to_be_visible()
        saved = api.get(f"/timers/{timer['id']}").json()
        assert saved["webhook_url"] == receiver.url("/ok")
        assert "timer.completed" not in saved["webhook_events"]
        assert "timer.started" in saved["webhook_events"]

        card.locator(".send-test").click()
        [arrived] = receiver.wait("/ok", 1)
        assert b'"event":"webhook.test"' in arrived.body
        done = card.locator('.delivery[data-status="succeeded"]')
        expect(done).to_have_count(1)
        expect(done.locator(".url")).to_have_text(receiver.url("/ok"))
        done.locator(".show-attempts").click()
        expect(done.locator(".attempts li")).to_have_count(1)
        expect(done.locator(".attempts li")).to_contain_text("200")
        expect(done.locator(".response")).to_have_text('{"received": true}')

        hooks.locator("[name=webhook_url]").fill(receiver.url("/fail"))
        hooks.locator("button[type=submit]").click()
        expect(hooks.locator('[data-error="webhook_url"]')).to_be_hidden()
        assert wait_for(api, timer["id"], lambda t: t["webhook_url"].endswith("/fail"))
        card.locator(".send-test").click()
        failed = card.locator('.delivery[data-status="failed"]')
        expect(failed).to_have_count(1, timeout=10_000)
        assert len(receiver.at("/fail")) == 5
        delivery_id = failed.get_attribute("data-delivery-id")
        expect(failed.locator(".attempt-count")).to_have_text("Attempts: 5")
        failed.locator(".retry").click()
        receiver.wait("/fail", 6)
        retried = card.locator(f'.delivery[data-delivery-id="{delivery_id}"]')
        expect(retried).to_have_attribute("data-status", "succeeded", timeout=10_000)
        retried.locator(".show-attempts").click()
        expect(retried.locator(".attempts li")).to_have_count(6)
        expect(retried.locator(".attempts li").first).to_contain_text("500")
        expect(retried.locator(".attempts li").first).to_contain_text("receiver broke")
        record = api.get(f"/deliveries/{delivery_id}").json()
        assert record["status"] == "succeeded"
        assert [a["status_code"] for a in record["attempts"]] == [500] * 5 + [200]

        # A receiver that asks for two minutes' pause: the log looks again once the attempt
        # is in, then waits for the next one instead of spending the rate limit each second.
        receiver.answers["/busy"] = Answer(429, headers={"Retry-After": "120"})
        hooks.locator("[name=webhook_url]").fill(receiver.url("/busy"))
        hooks.locator("button[type=submit]").click()
        assert wait_for(api, timer["id"], lambda t: t["webhook_url"].endswith("/busy"))
        looks: list[str] = []
        page.on("request", lambda request: looks.append(request.url)
                if "/deliveries?" in request.url else None)
        card.locator(".send-test").click()
        receiver.wait("/busy", 1)
        busy = card.locator('.delivery[data-status="pending"]')
        expect(busy.locator(".attempt-count")).to_have_text("Attempts: 1")
        seen = len(looks)
        page.wait_for_timeout(2500)
        assert len(looks) == seen <= 3

        # A URL the API refuses: its message beside the field.
        hooks.locator("[name=webhook_url]").fill("ftp://example.com/" + XSS)
        hooks.locator("button[type=submit]").click()
        expect(hooks.locator('[data-error="webhook_url"]')).to_contain_text("webhook_url")
        assert page.locator(".timer img").count() == 0


def test_revoking_a_key_in_the_page_gets_it_401_at_once_and_ends_its_session(
        browser: Browser, dash: Server) -> None:
    key = account_key(dash, f"keys-{time.time_ns()}")
    with opened_context(browser, **PHONE) as context:
        page = sign_in(context, dash, key)
        page.click("#create-key")
        expect(page.locator("#new-key-value")).to_have_text(re.compile(r"^ck_live_\w+$"))
        spare = page.locator("#new-key-value").text_content() or ""
        with client(dash, spare) as spare_api:
            assert spare_api.get("/account").status_code == 200
            page.click("#dismiss-key")
            assert spare not in page.content()
            row = page.locator("#key-list li", has_text=spare[:16])
            expect(row.locator(".key-status")).to_have_text("active")
            confirm(row.locator(".revoke"))
            expect(row.locator(".key-status")).to_contain_text("revoked")
            assert spare_api.get("/account").status_code == 401

        cookie = session_cookie(context)
        own = page.locator("#key-list li", has_text="this session")
        assert key[:16] in (own.text_content() or "")
        confirm(own.locator(".revoke"))
        # The page's next request is refused: it reloads to the sign-in form, which says why.
        expect(page.locator("#problem")).to_contain_text("Your session has ended")
        with client(dash, key) as api:
            assert api.get("/account").status_code == 401
        refused = httpx.get(f"{dash.base}/api/v1/account",
                            headers={"Cookie": f"castimer_session={cookie}"})
        assert refused.status_code == 401
        assert "revoked" in refused.json()["error"]["message"]


def test_other_sites_cannot_post_to_the_dashboard_or_the_api(
        browser: Browser, dash: Server, host_site: HostSite) -> None:
    key = account_key(dash, f"csrf-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, viewport={
            "width": 1000, "height": 800}) as context:
        # Login CSRF: a foreign page posts a key to the sign-in form.
        attack = context.new_page()
        attack.goto(host_site.put("/sign-in.html", f"""<!doctype html><body>
<form method="post" action="{dash.base}/dashboard/sign-in">
<input name="key" value="{key}"><input name="csrf" value="guess"></form>
<script>document.forms[0].submit()</script></body>"""))
        expect(attack.locator("#problem")).to_contain_text("own sign-in page")
        assert not any(c["name"] == "castimer_session" for c in context.cookies())

        page = sign_in(context, dash, key)
        # A foreign form posting to the API (text/plain, the classic JSON CSRF) and to sign-out.
        # The host site differs only by port: the same site to SameSite, so the browser sends the
        # cookie, and the Origin check is what refuses.
        attack.goto(host_site.put("/make-timer.html", f"""<!doctype html><body>
<form method="post" enctype="text/plain" action="{dash.base}/api/v1/timers">
<input name='{{"duration": 60, "x": "' value='"}}'></form>
<script>document.forms[0].submit()</script></body>"""))
        expect(attack.locator("body")).to_contain_text('"type":"forbidden"')
        attack.goto(host_site.put("/sign-out.html", f"""<!doctype html><body>
<form method="post" action="{dash.base}/dashboard/sign-out"><input name="csrf" value="x">
</form><script>document.forms[0].submit()</script></body>"""))
        expect(attack.locator("#problem")).to_be_visible()
        assert api.get("/timers").json()["data"] == []
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        # The session cookie, used from another origin, is refused even with the page's token.
        cookie = session_cookie(context)
        token = page.evaluate(
            "JSON.parse(document.getElementById('castimer-config').textContent).csrf")
        foreign = httpx.post(f"{dash.base}/api/v1/timers", json={"duration": 60},
                             headers={"Cookie": f"castimer_session={cookie}",
                                      "Origin": host_site.base, "X-CSRF-Token": token})
        assert foreign.status_code == 403
        assert host_site.base in foreign.json()["error"]["message"]
        assert api.get("/timers").json()["data"] == []


def test_no_page_shows_a_key_or_secret_unless_asked(browser: Browser, dash: Server) -> None:
    key = account_key(dash, XSS)
    with client(dash, key) as api, opened_context(browser, color_scheme="dark",
                                                  **PHONE) as context:
        api.post("/timers", json={"duration": 60})
        secret = api.get("/account").json()["webhook_secret"]
        page = sign_in(context, dash, key)
        expect(page.locator("#account-name")).to_have_text(XSS)
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
            "rgb(16, 16, 22)")  # the widget family's dark theme
        expect(page.locator("#plan")).to_have_text("Free")
        expect(page.locator("#usage")).to_contain_text("requests today")
        card = page.locator(".timer")
        expect(card).to_have_count(1)
        control = api.get("/timers").json()["data"][0]["urls"]["control"]
        hidden = [key, key[16:], hash_key(key), secret, control.split("#token=")[1]]
        for text in hidden:
            assert text not in page.content()
            assert text not in session_cookie(context)
        assert page.evaluate("document.cookie") == ""
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0

        page.click("#reveal-secret")
        expect(page.locator("#secret")).to_have_text(secret)
        page.click("#reveal-secret")
        expect(page.locator("#secret")).to_have_text("hidden")
        assert secret not in page.content()

        confirm(page.locator("#rotate-secret"))
        expect(page.locator("#secret")).not_to_have_text(re.compile("hidden|" + re.escape(secret)))
        rotated = api.get("/account").json()
        assert rotated["webhook_secret"] != secret
        expect(page.locator("#secret")).to_have_text(rotated["webhook_secret"])
        expect(page.locator("#secret-overlap")).to_contain_text("still signs until")
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        assert rotated["webhook_secret"] not in page.content()
        assert page.locator("img").count() == 0

        page.click("#sign-out")
        expect(page.locator("#key")).to_be_visible()
        assert not any(c["name"] == "castimer_session" for c in context.cookies())
        page.goto(f"{dash.base}/dashboard")
        expect(page.locator("#key")).to_be_visible()


def test_form_errors_are_in_the_page_language(browser: Browser, dash: Server) -> None:
    """In German: the form's own limits are checked before a request, in German; what only
    the server can judge is said in German too, naming the field, with its words as a detail."""
    key = account_key(dash, f"de-{time.time_ns()}")
    with client(dash, key) as api, opened_context(browser, **PHONE) as context:
        page = context.new_page()
        page.goto(f"{dash.base}/dashboard?lang=de")
        page.fill("#key", key)
        page.click("#sign-in")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        create = page.locator("#create")
        create.locator("[name=duration]").fill("0")
        create.locator("button[type=submit]").click()
        slot = create.locator('[data-error="duration"]')
        expect(slot).to_have_text("Dauer (Sekunden) muss zwischen 1 und 316.224.000 liegen.")
        expect(create.locator("[name=duration]")).to_be_focused()
        for bad, said in (("", "Dauer (Sekunden) muss ausgefüllt werden."),
                          ("2.5", "Dauer (Sekunden) muss eine ganze Zahl sein.")):
            create.locator("[name=duration]").fill(bad)
            create.locator("button[type=submit]").click()
            expect(slot).to_have_text(said)
        assert api.get("/timers").json()["data"] == []
        create.locator("[name=type]").select_option("event")
        create.locator("[name=target_date]").fill("morgen")
        create.locator("button[type=submit]").click()
        slot = create.locator('[data-error="target_date"]')
        expect(slot).to_contain_text("Zieldatum (ISO 8601): Dieser Wert wurde nicht angenommen.")
        assert slot.evaluate("el => el.firstChild.textContent") == (
            "Zieldatum (ISO 8601): Dieser Wert wurde nicht angenommen.")
        expect(slot.locator(".detail")).to_contain_text("target_date")
        assert api.get("/timers").json()["data"] == []


def test_a_scheduled_start_is_set_shown_refused_and_cleared_from_the_page(
        browser: Browser, dash: Server) -> None:
    """Typed in the browser's own time zone (Paris), sent with its offset; the card says it;
    a start in the past is refused beside the field; an emptied field clears it."""
    key = account_key(dash, f"start-{time.time_ns()}")
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    tomorrow = (dt.datetime.now(paris) + dt.timedelta(days=1)).replace(
        hour=14, minute=0, second=0, microsecond=0)
    typed = f"{tomorrow:%Y-%m-%dT%H:%M}"
    with client(dash, key) as api, opened_context(browser, **PHONE,
                                                  timezone_id="Europe/Paris") as context:
        timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
        page = sign_in(context, dash, key)
        card = page.locator(".timer")
        state = card.locator(".state")
        expect(state).to_have_text("Ready")
        card.locator(".toggle-details").click()
        card.locator(".edit summary").click()
        edit = card.locator(".edit-form")
        expect(edit.locator("[name=start_at]")).to_have_value("")
        edit.locator("[name=start_at]").fill(typed)
        edit.locator("button[type=submit]").click()
        saved = wait_for(api, timer["id"], lambda t: t["start_at"] is not None)
        assert saved["start_at"] == tomorrow.isoformat()  # 14:00 with Paris's offset then
        expect(state).to_have_text(starts_words("en", tomorrow))
        state_box, card_box = state.bounding_box(), card.bounding_box()
        assert state_box and card_box and state_box["x"] + state_box["width"] <= (
            card_box["x"] + card_box["width"]), (state_box, card_box)

        card.locator(".edit summary").click()
        expect(edit.locator("[name=start_at]")).to_have_value(typed)
        edit.locator("[name=start_at]").fill("2020-01-01T09:00")
        edit.locator("button[type=submit]").click()
        slot = edit.locator('[data-error="start_at"]')
        expect(slot).to_contain_text("Scheduled start: the server did not accept this value.")
        expect(slot.locator(".detail")).to_contain_text("start_at must be in the future")
        assert api.get(f"/timers/{timer['id']}").json()["start_at"] == saved["start_at"]

        edit.locator("[name=start_at]").fill("")
        edit.locator("button[type=submit]").click()
        assert wait_for(api, timer["id"], lambda t: t["start_at"] is None)["start_at"] is None
        expect(state).to_have_text("Ready")

        # The create form takes one too.
        page.locator("#create-panel summary").click()
        page.fill("#create [name=start_at]", typed)
        page.click("#create-timer")
        expect(page.locator(".timer")).to_have_count(2)
        made = [t for t in api.get("/timers").json()["data"] if t["id"] != timer["id"]]
        assert [t["start_at"] for t in made] == [tomorrow.isoformat()]
