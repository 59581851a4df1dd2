"""The landing page and the API's index: what a newcomer sees at `/` and at the API's base."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server import __version__, i18n
from tests.conftest import sqlite_url
from tests.servers import Server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("home")
    running = Server(sqlite_url(workdir), workdir).start()
    yield running
    running.stop()


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_landing_page_says_what_this_is_and_links_everywhere(site: Server,
                                                                  lang: str) -> None:
    page = httpx.get(f"{site.base}/?lang={lang}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in page.text
    assert i18n.CATALOGS[lang]["home.intro"] in page.text
    for link in (f'href="/dashboard?lang={lang}"', f'href="/embed?lang={lang}"',
                 'href="/api/v1/openapi.json"', 'href="/api/v1/"'):
        assert link in page.text
    assert 'data-store="ok"' in page.text and i18n.CATALOGS[lang]["home.store_ok"] in page.text
    assert "docs/webhooks.md" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_landing_page_follows_the_browsers_language(site: Server) -> None:
    page = httpx.get(f"{site.base}/", headers={"Accept-Language": "ja,en;q=0.5"})
    assert '<html lang="ja">' in page.text and i18n.CATALOGS["ja"]["home.intro"] in page.text


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
def test_the_api_base_answers_an_index_not_404(site: Server, path: str) -> None:
    index = httpx.get(site.base + path)  # no redirect to follow
    assert index.status_code == 200
    assert index.headers["content-type"] == "application/json"
    body = index.json()
    assert body["version"] == __version__
    assert body["links"]["openapi"] == "/api/v1/openapi.json"
    for link in body["links"].values():
        assert httpx.get(site.base + link).status_code in (200, 401), link


def test_each_spelling_of_the_api_base_is_counted_under_its_own_route(site: Server) -> None:
    for path in ("/api/v1", "/api/v1/", "/"):
        assert httpx.get(site.base + path).status_code == 200
    scraped = httpx.get(f"{site.base}/metrics").text
    for route in ("/api/v1", "/api/v1/", "/"):
        assert f'route="{route}"' in scraped, route


def test_the_docs_the_landing_page_lists_are_linked_and_served(site: Server) -> None:
    import re
    from pathlib import Path

    page = httpx.get(f"{site.base}/").text
    linked = re.findall(r'href="(/docs/[^"]+)"', page)
    assert {"/docs/README.md", "/docs/webhooks.md", "/docs/performance.md"} <= set(linked)
    root = Path(__file__).resolve().parent.parent
    for path in linked:
        answer = httpx.get(site.base + path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
        name = path.removeprefix("/docs/")
        source = root / name if name == "README.md" else root / "docs" / name
        assert answer.text == source.read_text(encoding="utf-8")
    for path in ("/docs/pyproject.toml", "/docs/..%2Fpyproject.toml", "/docs/nothing.md"):
        assert httpx.get(site.base + path).status_code == 404, path
