"""Real headless Chromium (Debian's `chromium`, driven by Playwright) against a real
`castimer serve`; a second, plain HTTP server stands in for the site that embeds the widget,
so the widget runs cross-origin as it does on people's pages."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import sqlite_url
from tests.servers import Server, client, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the package, closed before any other package's (async) tests run."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("pages")
    running = Server(sqlite_url(workdir), workdir).start()
    yield running
    running.stop()


def new_key(site: Server, plan: str = "enterprise") -> str:
    """A key for a new account, made by the CLI: Playwright's sync API holds this thread's
    event loop, so `make_key`'s asyncio.run cannot run beside it."""
    made = subprocess.run([sys.executable, "-m", "server.cli", "keys", "create", "--plan", plan,
                           "--account", f"pages-{time.time_ns()}", "--engine", site.engine_url],
                          capture_output=True, text=True, check=True, cwd=site.workdir)
    return made.stdout.strip()


@pytest.fixture(scope="module")
def api(site: Server) -> Iterator[httpx.Client]:
    with client(site, new_key(site)) as http:
        yield http


@contextlib.contextmanager
def opened_context(browser: Browser, **options: Any) -> Iterator[BrowserContext]:
    """A browser context (a window of its own) that fails the test if a script on any of its
    pages throws."""
    context = browser.new_context(**options)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield context
    finally:
        context.close()
    assert errors == []


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    with opened_context(browser, viewport={"width": 360, "height": 360}) as opened:
        yield opened


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


class HostSite:
    """Pages of "someone else's site", served from another origin than Castimer's."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="package")
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.close()
