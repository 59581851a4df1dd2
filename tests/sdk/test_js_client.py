"""The JavaScript client (sdk/js) against a real `castimer serve`.

The package is installed from its own lock (`npm ci`) and built (`npm run build`: tsc to ESM and
`.d.ts`), its sources and tests are type-checked strictly, then its `node --test` files run with
the server's address and keys in the environment. A real receiver captures a signed delivery
for the webhook verifier's test; when the live test writes `restart` into its directory, the
server is stopped and started again on the same port, as an operator's restart would."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import sqlite_url
from tests.servers import Server, client, free_port, make_key
from tests.webhooks.conftest import HOOK_ENV
from tests.webhooks.receiver import Receiver

SDK = Path(__file__).resolve().parents[2] / "sdk" / "js"
TSC = SDK / "node_modules" / ".bin" / "tsc"
README = SDK / "README.md"


def _run(*command: str | Path, timeout: float = 300,
         env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=SDK, capture_output=True,
                          text=True, timeout=timeout, env=env)
    output = done.stdout + done.stderr
    shown = " ".join(map(str, command))
    assert done.returncode == 0, f"{shown} exited {done.returncode}:\n{output}"
    return output


@pytest.fixture(scope="module")
def built() -> Path:
    _run("npm", "ci", "--silent", "--no-audit", "--no-fund")
    _run("npm", "run", "build", "--silent")
    return SDK / "dist"


def test_the_client_builds_to_esm_with_declarations(built: Path) -> None:
    assert (built / "index.js").exists() and (built / "index.d.ts").exists()
    assert "export" in (built / "index.js").read_text()
    package = json.loads((SDK / "package.json").read_text())
    assert package["type"] == "module" and not package.get("dependencies"), package


@pytest.mark.parametrize("project", [".", "test"])
def test_typescript_strict_finds_no_error(built: Path, project: str) -> None:
    _run(TSC, "--noEmit", "--strict", "-p", project)


class Restarter:
    """Restarts the server on its port whenever `restart` appears in `directory`."""

    def __init__(self, server: Server, directory: Path) -> None:
        self.server, self.directory = server, directory
        self.restarts = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        request = self.directory / "restart"
        while not self._done.wait(0.05):
            if not request.exists():
                continue
            self.server.stop()
            self.server = Server(self.server.engine_url, self.server.workdir, env=HOOK_ENV,
                                 port=self.server.port).start()
            self.restarts += 1
            request.unlink()

    def __enter__(self) -> Restarter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(30)
        self.server.stop()


def _captured_delivery(server: Server, receiver: Receiver, path: Path) -> None:
    """A real webhook.test delivery as the receiver got it, with the secret that signed it."""
    with client(server, make_key(server.engine_url)) as api:
        timer = api.post("/timers", json={"duration": 60, "title": "Café ☕ launch",
                                          "webhook_url": receiver.url("/capture")}).json()
        assert api.post(f"/timers/{timer['id']}/webhooks/test").status_code == 202
        secret = api.get("/account").json()["webhook_secret"]
    delivered = receiver.wait("/capture", 1)[0]
    path.write_text(json.dumps({"body_base64": base64.b64encode(delivered.body).decode(),
                                "headers": delivered.headers, "secret": secret}))


def test_the_clients_tests_pass_against_a_real_server(built: Path, tmp_path: Path,
                                                      receiver: Receiver) -> None:
    workdir = tmp_path / "server"
    workdir.mkdir()
    server = Server(sqlite_url(workdir), workdir, env=HOOK_ENV).start()
    with Restarter(server, tmp_path) as restarter:
        _captured_delivery(server, receiver, tmp_path / "delivery.json")
        env = {**os.environ,
               "CASTIMER_BASE_URL": server.base,
               "CASTIMER_API_KEY": make_key(server.engine_url),
               "CASTIMER_FREE_KEY": make_key(server.engine_url, plan="free"),
               "CASTIMER_HOOK_URL": receiver.url("/sdk"),
               "CASTIMER_WEBHOOK_FILE": str(tmp_path / "delivery.json"),
               "CASTIMER_RESTART_DIR": str(tmp_path)}
        files = sorted(str(p.relative_to(SDK)) for p in (SDK / "test").glob("*.test.js"))
        output = _run("node", "--test", "--test-concurrency=1", *files, env=env, timeout=300)
        assert restarter.restarts == 1, output
    assert re.search(r"^# fail 0\n# cancelled 0\n# skipped 0\n# todo 0$", output, re.M), output
    assert {"timers.test.js", "rundowns.test.js", "live.test.js", "webhooks.test.js"} <= {
        Path(f).name for f in files}, files


def _example(marker: str) -> str:
    found = re.findall(rf"```js\n({re.escape(marker)}\n.*?)```", README.read_text(), re.S)
    assert len(found) == 1, f"sdk/js/README.md has no single example starting {marker!r}"
    return found[0]


def _app(directory: Path, script: str) -> Path:
    """A program outside the checkout that has castimer-client installed from it (npm links a
    folder dependency in the same way)."""
    (directory / "node_modules").mkdir(parents=True)
    (directory / "node_modules" / "castimer-client").symlink_to(SDK, target_is_directory=True)
    path = directory / "app.mjs"
    path.write_text(script)
    return path


def test_readme_quick_start_runs_with_node(built: Path, sdk_server: Server,
                                           tmp_path: Path) -> None:
    app = _app(tmp_path / "app", _example("// quick start"))
    key = make_key(sdk_server.engine_url)
    done = subprocess.run(["node", str(app)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CASTIMER_API_KEY": key,
                               "CASTIMER_URL": sdk_server.base})
    assert done.returncode == 0, done.stdout + done.stderr
    widget, remaining = done.stdout.split()
    assert widget.startswith(f"{sdk_server.base}/widget?timer=tmr_")
    assert 1_790_000 < int(remaining) <= 1_800_000


def test_readme_node_receiver_verifies_real_deliveries(built: Path, sdk_server: Server,
                                                       tmp_path: Path) -> None:
    app = _app(tmp_path / "app", _example("// castimer-client receiver (node:http)"))
    port = free_port()
    with client(sdk_server, make_key(sdk_server.engine_url)) as api:
        secret = api.get("/account").json()["webhook_secret"]
        receiver = subprocess.Popen(["node", str(app)], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True,
                                    env={**os.environ, "CASTIMER_WEBHOOK_SECRET": secret,
                                         "PORT": str(port)})
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    forged = httpx.post(f"http://127.0.0.1:{port}/", content=b'{"event":"x"}',
                                        headers={"X-Castimer-Signature": "sha256=" + "0" * 64})
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the example receiver did not start"
                    time.sleep(0.05)
            assert forged.status_code == 401
            timer = api.post("/timers", json={
                "duration": 60, "webhook_url": f"http://127.0.0.1:{port}/hook"}).json()
            api.patch(f"/timers/{timer['id']}/state", json={"action": "start"})
            deadline = time.monotonic() + 10
            while not (done := [d for d in api.get(f"/timers/{timer['id']}/deliveries").json()[
                    "data"] if d["status"] == "succeeded"]):
                assert time.monotonic() < deadline, "the example receiver refused the delivery"
                time.sleep(0.05)
        finally:
            receiver.terminate()
            output, _ = receiver.communicate(timeout=10)
    assert f"timer.started {timer['id']} {done[0]['id']}" in output


class _SdkSite:
    """Someone else's site, on another origin than Castimer's: a host page and the built
    library as ES modules, as a page that installed castimer-client serves them."""

    def __init__(self, directory: Path) -> None:
        (directory / "dist").symlink_to(SDK / "dist", target_is_directory=True)
        handler = functools.partial(_QuietFiles, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _SdkSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


HOST_PAGE = """<!doctype html>
<iframe id="mine" src="{server}/widget?timer={mine}"></iframe>
<iframe id="theirs" src="{server}/widget?timer={theirs}"></iframe>
<script type="module">
  import {{ onWidgetEvent }} from "/dist/index.js";
  window.mine = [];
  window.every = [];
  window.elsewhere = [];
  onWidgetEvent((event) => window.mine.push(event),
                {{ origin: "{server}", frame: document.getElementById("mine") }});
  onWidgetEvent((event) => window.every.push(event.timer_id));
  onWidgetEvent((event) => window.elsewhere.push(event),
                {{ origin: "https://timers.example.com" }});
  window.listening = true;
</script>
"""


def test_on_widget_event_hears_real_widgets_in_chromium(built: Path, sdk_server: Server,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import ARGS, CHROMIUM

    with client(sdk_server, make_key(sdk_server.engine_url)) as api:
        mine, theirs = (api.post("/timers", json={"duration": 60}).json()["id"]
                        for _ in range(2))
        (tmp_path / "host.html").write_text(HOST_PAGE.format(server=sdk_server.base,
                                                             mine=mine, theirs=theirs))
        with _SdkSite(tmp_path) as site, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"{site.base}/host.html")
                page.wait_for_function("window.listening === true")
                for frame in page.frames[1:]:
                    frame.wait_for_selector('#timer[data-connection="live"]')
                api.patch(f"/timers/{mine}/state", json={"action": "start"})
                api.patch(f"/timers/{theirs}/state", json={"action": "start"})
                page.wait_for_function("window.every.length >= 2")
                # The host page's own message, shaped like a widget's, is not the widget's.
                page.evaluate("postMessage({source: 'castimer', event: 'timer.completed', "
                              "timer_id: 'tmr_forged'}, '*')")
                page.wait_for_function("window.every.includes('tmr_forged')")
                heard = page.evaluate("window.mine")
                every = page.evaluate("window.every")
                elsewhere = page.evaluate("window.elsewhere")
            finally:
                browser.close()
    assert errors == []
    assert [(e["event"], e["timer_id"], e["state"]) for e in heard] == [
        ("timer.started", mine, "running")], heard
    assert heard[0]["source"] == "castimer" and 59_000 < heard[0]["remaining_ms"] <= 60_000
    assert sorted(every) == sorted([mine, theirs, "tmr_forged"]), every
    assert elsewhere == []
