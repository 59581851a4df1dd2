"""The pages over plain HTTP: branding rules, security headers, the widget's weight, and what
a missing live timer shows. (What the pages do in a browser: tests/browser.)"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from server import i18n
from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key

ROOT = Path(__file__).resolve().parent.parent


def _start(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Server:
    workdir = tmp_path_factory.mktemp("pages-http")
    return Server(sqlite_url(workdir), workdir, env=env).start()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def unbranded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory, CASTIMER_BRANDING="0")
    yield running
    running.stop()


def _live_timer(server: Server, plan: str) -> str:
    with client(server, make_key(server.engine_url, plan=plan)) as api:
        return str(api.post("/timers", json={"duration": 60}).json()["id"])


def _branded(server: Server, query: str) -> bool:
    page = httpx.get(f"{server.base}/widget?{query}")
    assert page.status_code == 200, page.text
    return 'id="brand"' in page.text


@pytest.mark.parametrize(("plan", "hidden"), [("free", False), ("pro", True),
                                              ("enterprise", True)])
def test_only_live_timers_of_paid_plans_may_hide_the_branding(site: Server, plan: str,
                                                              hidden: bool) -> None:
    timer_id = _live_timer(site, plan)
    assert _branded(site, f"timer={timer_id}")
    assert _branded(site, f"timer={timer_id}&show_brand=0") is not hidden


def test_a_standalone_widget_keeps_the_branding(site: Server) -> None:
    assert _branded(site, "duration=60&show_brand=0")


def test_the_operator_can_turn_branding_off_everywhere(unbranded: Server) -> None:
    assert not _branded(unbranded, "duration=60")
    assert not _branded(unbranded, f"timer={_live_timer(unbranded, 'free')}")


def test_pages_send_a_strict_content_security_policy(site: Server) -> None:
    timer_id = _live_timer(site, "free")
    for path, ancestors in ((f"/widget?timer={timer_id}", "*"),
                            ("/widget?duration=-1", "*"),
                            ("/embed", "'none'"), (f"/control/{timer_id}", "'none'"),
                            ("/control/rnd_show", "'none'"),
                            (f"/stage/{timer_id}", "*"), ("/stage/tmr_x?mirror=2", "*")):
        response = httpx.get(site.base + path)
        policy = dict(part.strip().split(" ", 1)
                      for part in response.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'"  # no inline script, no eval
        assert re.fullmatch(r"'self' 'nonce-[\w-]{20,}'", policy["style-src"])
        assert policy["frame-ancestors"] == ancestors, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text  # every script is a file


# A module's static imports (`import … from "./x.js"`), which the browser fetches too.
_IMPORT = re.compile(r'^import\b[^"]*?"([^"]+)"', re.M)


def _loaded(server: Server, page: str) -> dict[str, httpx.Response]:
    """Every file `page` makes a browser fetch: what it names, and what its modules import."""
    wanted = re.findall(r'(?:src|href)="(/[^"]+)"', page)
    loaded: dict[str, httpx.Response] = {}
    while wanted:
        path = wanted.pop()
        if path in loaded:
            continue
        loaded[path] = response = httpx.get(server.base + path)
        assert response.status_code == 200, path
        if path.endswith(".js"):
            wanted += [urljoin(path, name) for name in _IMPORT.findall(response.text)]
    return loaded


def test_the_widget_weighs_at_most_40_kb(site: Server) -> None:
    page = httpx.get(f"{site.base}/widget?type=interval&title=HIIT")
    loaded = _loaded(site, page.text)
    assert sorted(loaded) == ["/static/castimer.js", "/static/icon.svg", "/static/time.js",
                              "/widget/widget.css", "/widget/widget.js"]
    sizes = {path: len(response.content) for path, response in loaded.items()}
    total = len(page.content) + sum(sizes.values())
    assert total <= 40 * 1024, (total, sizes)


def test_the_widget_preloads_what_its_script_imports(site: Server) -> None:
    """Framed on other sites, the widget should not wait for its script before fetching the
    modules the script imports."""
    page = httpx.get(f"{site.base}/widget?duration=60").text
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', page)
    script = httpx.get(f"{site.base}/widget/widget.js").text
    assert sorted(preloaded) == sorted(urljoin("/widget/widget.js", name)
                                       for name in _IMPORT.findall(script))


def test_page_scripts_are_modules_served_as_javascript(site: Server) -> None:
    """Browsers run a module only if it comes with a JavaScript MIME type."""
    timer_id = _live_timer(site, "free")
    for path in (f"/widget?timer={timer_id}", "/embed", f"/control/{timer_id}",
                 f"/stage/{timer_id}"):
        page = httpx.get(site.base + path).text
        scripts = re.findall(r"<script\b[^>]*\bsrc=[^>]*>", page)
        assert scripts, path
        assert all(' type="module"' in tag for tag in scripts), scripts
        for name, response in _loaded(site, page).items():
            if name.endswith(".js"):
                assert response.headers["content-type"].split(";")[0] in (
                    "text/javascript", "application/javascript"), name


def test_no_page_asks_another_host_for_anything() -> None:
    for folder in ("widget", "templates", "static"):
        for path in (ROOT / "server" / folder).iterdir():
            text = path.read_text(encoding="utf-8")
            # The dashboard fetches its own API: only a literal path of this server passes.
            assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//|url\(\s*[\"']?(?:https?:)?//"
                                 r"|@import|fetch\((?!\"/[a-z])", text), path
            # Modules import only files of this server, by relative path.
            assert all(name.startswith(("./", "../")) for name in _IMPORT.findall(text)), path


def test_a_missing_live_timer_says_so_in_the_widget_language(site: Server) -> None:
    response = httpx.get(f"{site.base}/widget?timer=tmr_doesnotexist&lang=es")
    assert response.status_code == 404
    assert "No existe el temporizador tmr_doesnotexist: puede que se haya eliminado." in (
        response.text)


def test_the_stage_display_names_a_bad_parameter_or_a_missing_timer(site: Server) -> None:
    timer_id = _live_timer(site, "free")
    response = httpx.get(f"{site.base}/stage/{timer_id}?mirror=yes&theme=pink&lang=fr")
    assert response.status_code == 400
    assert i18n.text("fr", "error.choice", param="mirror", allowed="0, 1", value="yes") in (
        response.text)
    assert "theme" in response.text and "pink" in response.text
    response = httpx.get(f"{site.base}/stage/not-an-id")
    assert response.status_code == 400 and "timer_id" in response.text
    response = httpx.get(f"{site.base}/stage/tmr_doesnotexist?lang=de")
    assert response.status_code == 404
    assert "tmr_doesnotexist" in response.text and 'lang="de"' in response.text


def _rundown(server: Server, plan: str) -> str:
    with client(server, make_key(server.engine_url, plan=plan)) as api:
        timer_id = api.post("/timers", json={"duration": 60}).json()["id"]
        return str(api.post("/rundowns", json={"timers": [timer_id]}).json()["id"])


@pytest.mark.parametrize(("plan", "hidden"), [("free", False), ("pro", True)])
def test_a_rundown_widget_may_hide_the_branding_as_its_accounts_timers_may(
        site: Server, plan: str, hidden: bool) -> None:
    rundown_id = _rundown(site, plan)
    assert _branded(site, f"rundown={rundown_id}")
    assert _branded(site, f"rundown={rundown_id}&show_brand=0") is not hidden


def test_a_rundown_page_preloads_the_rundown_module_and_keeps_the_policy(site: Server) -> None:
    rundown_id = _rundown(site, "free")
    for path in (f"/widget?rundown={rundown_id}", f"/stage/{rundown_id}"):
        response = httpx.get(site.base + path)
        assert response.status_code == 200, response.text
        assert '<link rel="modulepreload" href="/static/rundown.js">' in response.text
        assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert "rundown.js" not in httpx.get(f"{site.base}/widget?duration=60").text


def test_a_rundown_page_names_a_bad_or_missing_rundown(site: Server) -> None:
    response = httpx.get(f"{site.base}/widget?rundown=rnd_doesnotexist&lang=fr")
    assert response.status_code == 404
    assert i18n.text("fr", "error.rundown_not_found", value="rnd_doesnotexist") in html.unescape(
        response.text)
    response = httpx.get(f"{site.base}/widget?rundown=nope&timer=tmr_x")
    assert response.status_code == 400
    assert "rundown" in response.text and "not both" in response.text
    response = httpx.get(f"{site.base}/stage/rnd_doesnotexist?lang=de")
    assert response.status_code == 404 and 'lang="de"' in response.text
    response = httpx.get(f"{site.base}/stage/rnd_no-such")
    assert response.status_code == 400 and "rundown_id" in response.text


def test_only_the_widget_script_and_style_are_served_from_its_folder(site: Server) -> None:
    assert httpx.get(f"{site.base}/widget/widget.js").status_code == 200
    assert httpx.get(f"{site.base}/widget/widget.css").headers["content-type"].startswith(
        "text/css")
    for name in ("widget.html", "embed.html", "..%2Fserver%2Fsettings.py"):
        assert httpx.get(f"{site.base}/widget/{name}").status_code == 404


@pytest.mark.parametrize("query", [
    "target_date=tomorrow&type=event", "primary_color=zz", "duration=0&lang=de",
    "timer=abc&primary_color=zz", "rounds=2000&type=interval", "theme=pink", "type=event",
    "timezone=Moon/Base&type=event&target_date=2031-01-01T00:00:00Z", "title=" + "x" * 201,
])
def test_the_embed_check_refuses_exactly_what_the_widget_refuses_in_the_pages_language(
        site: Server, query: str) -> None:
    widget = httpx.get(f"{site.base}/widget?{query}&lang=ja")
    assert widget.status_code == 400
    shown = re.findall(r"<p>(.*?)</p>", widget.text.split('class="problem"')[1])
    checked = httpx.get(f"{site.base}/embed/check?{query}&lang=ja&ui=ja").json()["problems"]
    assert [html.escape(p["message"], quote=True) for p in checked] == shown
    assert checked and all(p["param"] in p["message"] for p in checked)


def test_the_embed_check_passes_what_the_widget_shows_and_checks_the_frame_size(
        site: Server) -> None:
    good = "type=interval&work=40&rounds=5&primary_color=0A0&width=320&height=240"
    assert httpx.get(f"{site.base}/widget?{good}").status_code == 200
    assert httpx.get(f"{site.base}/embed/check?{good}").json() == {"problems": []}
    sizes = httpx.get(f"{site.base}/embed/check?width=99&height=601&ui=fr").json()["problems"]
    assert [p["param"] for p in sizes] == ["width", "height"]
    assert sizes[0]["message"] == "width doit être un nombre entier entre 100 et 600 ; reçu « 99 »."
