"""A wheel built from the checkout, installed into a fresh venv far from it, serves every page
and every file the pages load: templates, static files, widget files, catalogs and Lua
scripts travel as package data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.servers import Server, client, make_key

ROOT = Path(__file__).resolve().parent.parent
#: What a page or a module names: src/href attributes and ES module imports.
_REFERENCES = re.compile(r'(?:src|href)="(/[^"]*)"|(?:import|from)\s*["\'](\.{0,2}/[^"\']+)["\']')


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`castimer` from a wheel in a new venv; the checkout is not on its path."""
    where = tmp_path_factory.mktemp("wheel")
    # From a copy of the files git knows, as a fresh clone has them: a build/ or *.egg-info
    # left in the checkout by an earlier build would otherwise supply files the project's
    # own configuration forgot.
    source = where / "source"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for name in listed.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(where / "dist"), str(source)], check=True, timeout=300)
    [wheel] = (where / "dist").glob("castimer-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True, timeout=120)
    subprocess.run([str(where / "venv" / "bin" / "pip"), "install", "-q", str(wheel)],
                   check=True, timeout=600, cwd=where)
    return where / "venv" / "bin" / "castimer"


def referenced(base: str, path: str, text: str) -> set[str]:
    found = set()
    for absolute, relative in _REFERENCES.findall(text):
        found.add(absolute or httpx.URL(urljoin(base + path, relative)).path)
    return found


@pytest.mark.parametrize("engine", ["sqlite", "redis"])
def test_an_installed_wheel_serves_every_page_and_file(installed, engine, tmp_path, request):
    url = (request.getfixturevalue("redis_server").url if engine == "redis"
           else f"sqlite:///{tmp_path}/castimer.db")
    if engine == "redis":
        request.getfixturevalue("redis_server").flush()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = Server(url, tmp_path, env=env, command=[str(installed)]).start()
    try:
        with client(server, make_key(url)) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
            assert api.patch(f"/timers/{timer['id']}/state",  # a commit: the Lua scripts load
                             json={"state": "running"}).status_code == 200
        pages = ["/widget", f"/widget?timer={timer['id']}", "/widget?lang=ja", "/embed",
                 f"/control/{timer['id']}", f"/stage/{timer['id']}", "/dashboard", "/healthz",
                 "/api/v1/openapi.json"]
        seen: set[str] = set()
        waiting = list(pages)
        while waiting:
            path = waiting.pop()
            if path in seen:
                continue
            seen.add(path)
            answer = httpx.get(server.base + path)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            kind = answer.headers.get("content-type", "")
            if kind.startswith(("text/html", "text/javascript", "application/javascript")):
                waiting += referenced(server.base, path, answer.text) - seen
        assert {"/static/castimer.js", "/widget/widget.js", "/widget/widget.css"} <= seen
        # A catalog other than English is read from the package too.
        assert "<title>タイマー</title>" in httpx.get(f"{server.base}/widget?lang=ja").text
        assert "Traceback" not in server.output()
    finally:
        server.stop()
