"""The README's commands and examples are the ones that work: CI runs its test command
verbatim, and the websocket example runs against a live timer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.conftest import sqlite_url
from tests.servers import Server, client, make_key

ROOT = Path(__file__).resolve().parent.parent


def command_under(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command_verbatim():
    command = command_under("Tests")
    assert "\n" not in command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci_lines


def test_quick_start_is_one_command_that_installs_and_serves():
    command = command_under("Quick start")
    assert "\n" not in command
    assert "pip install" in command and command.endswith("castimer serve")


def python_block_under(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1]
    return re.search(r"```python\n(.+?)\n```", section, re.S).group(1)


def test_the_websocket_example_prints_a_live_timers_snapshot_ticks_and_transitions(tmp_path):
    example = python_block_under("Live: websockets")
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        with client(server, make_key(server.engine_url)) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
            api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
            assert "ws://127.0.0.1:8000" in example and '"tmr_…"' in example
            script = tmp_path / "watch.py"
            script.write_text(example.replace("ws://127.0.0.1:8000", server.base.replace(
                "http://", "ws://")).replace('"tmr_…"', f'"{timer["id"]}"'))
            with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) as watcher:
                try:
                    assert watcher.stdout is not None
                    counts: list[str] = []

                    def line_of(out) -> list[str]:
                        """The next line that is not a presence count (those are noted)."""
                        while (words := out.readline().split())[0] == "presence":
                            counts.append(words[1])
                        return words

                    first = line_of(watcher.stdout)
                    assert first[:2] == ["snapshot", "running"] and first[3] == "None", first
                    assert 58_000 < int(first[2]) <= 60_000
                    tick = line_of(watcher.stdout)
                    assert tick[:2] == ["tick", "running"] and int(tick[2]) % 1000 == 0, tick
                    api.patch(f"/timers/{timer['id']}/state", json={"state": "paused"})
                    while (line := line_of(watcher.stdout))[0] == "tick":
                        pass
                    assert line[:2] == ["state", "paused"] and line[3] == "timer.paused", line
                    assert 0 < int(line[2]) < int(first[2])
                    while not counts:  # the example itself is the one viewer
                        line_of(watcher.stdout)
                    assert counts[0] == "1", counts
                finally:
                    watcher.kill()
    finally:
        server.stop()


def test_the_api_table_states_the_defaults_the_server_applies():
    from server import timers

    readme = (ROOT / "README.md").read_text()
    [row] = [line for line in readme.splitlines() if line.startswith("| `POST /timers` |")]
    assert f"`type` (default `{timers.COUNTDOWN}`)" in row
    assert (f"default {timers.DEFAULT_WORK} s, {timers.DEFAULT_REST} s, "
            f"{timers.DEFAULT_ROUNDS}") in row
    assert "`timezone`, default `UTC`" in row


HARDWARE = "Control from hardware (Bitfocus Companion, Stream Deck, curl)"


def test_the_hardware_control_curl_commands_drive_a_live_timer(tmp_path):
    block = command_under(HARDWARE)
    assert block.startswith("CTL=ctl_…")
    assert "\nTIMER=http://127.0.0.1:8000/api/v1/timers/tmr_…\n" in block
    commands = [line for line in block.splitlines() if line.startswith("curl ")]
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        with client(server, make_key(server.engine_url)) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            token = timer["urls"]["control"].split("#token=", 1)[1]
            states = []
            for command in commands:
                # Each as written, told only to print the status and the body.
                run = subprocess.run(
                    ["bash", "-c", f"CTL={token}; TIMER={server.base}/api/v1/timers/"
                     f"{timer['id']}; " + command.replace("curl ", "curl -sS -w ' %{http_code}' ",
                                                         1)],
                    capture_output=True, text=True, timeout=20)
                body, _, status = run.stdout.rpartition(" ")
                assert (run.returncode, status) == (0, "200"), (command, run.stdout, run.stderr)
                states.append(orjson.loads(body))
            log = api.get("/events", params={"timer_id": timer["id"]}).json()["data"]
        assert [e["event"] for e in log] == ["timer.started", "timer.paused", "timer.adjusted",
                                             "timer.message", "timer.message"]
        assert [s["state"] for s in states] == ["running", "paused", "paused", "paused",
                                                "paused", "paused"]
        assert states[2]["adjustment"] == 60 and states[3]["message"]["text"] == "Wrap up"
        assert states[4]["message"] is None and states[5]["version"] == 6
    finally:
        server.stop()


def test_the_companion_table_holds_requests_that_drive_a_live_timer(tmp_path):
    """Each row replayed as Companion's generic HTTP module sends it: the header input parsed as
    JSON, the Content Type option as Content-Type, the Body as it stands."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {HARDWARE}\n", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip().strip("`") for cell in line.strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert [row[:2] for row in rows] == [["Start", "PATCH"], ["Pause", "PATCH"],
                                         ["+1 min", "POST"], ["Message", "PUT"],
                                         ["Clear", "DELETE"]]
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        with client(server, make_key(server.engine_url)) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            token = timer["urls"]["control"].split("#token=", 1)[1]
            for _, method, url, body, header, content_type in rows:
                headers = orjson.loads(header.replace("ctl_…", token))
                if content_type != "—":
                    headers["Content-Type"] = content_type
                answer = httpx.request(
                    method, url.replace("http://127.0.0.1:8000", server.base)
                    .replace("tmr_…", timer["id"]), content=body.encode(), headers=headers)
                assert answer.status_code == 200, (method, url, answer.text)
            log = api.get("/events", params={"timer_id": timer["id"]}).json()["data"]
        assert [e["event"] for e in log] == ["timer.started", "timer.paused", "timer.adjusted",
                                             "timer.message", "timer.message"]
    finally:
        server.stop()


def test_the_rundown_example_makes_a_show_and_advances_it(tmp_path):
    block = command_under("Rundowns: a show of timers")  # a ### heading, found all the same
    create, advance = (c.replace("\\\n", " ") for c in block.split("\ncurl "))
    advance = "curl " + advance
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        key = make_key(server.engine_url)
        with client(server, key) as api:
            ids = {name: api.post("/timers", json={"type": "countdown", "duration": 60}).json()
                   ["id"] for name in ("tmr_intro", "tmr_talk", "tmr_qa")}
            for placeholder, real in ids.items():
                create = create.replace(placeholder, real)
            env = f"KEY={key}; API={server.base}/api/v1; "
            made = subprocess.run(["bash", "-c", env + create.replace("curl ", "curl -sS ", 1)],
                                  capture_output=True, text=True, timeout=20)
            show = orjson.loads(made.stdout)
            assert show["timers"] == list(ids.values()) and show["auto_advance"] is True
            moved = subprocess.run(
                ["bash", "-c", env + advance.replace("rnd_…", show["id"])
                 .replace("curl ", "curl -sS ", 1)], capture_output=True, text=True, timeout=20)
            assert orjson.loads(moved.stdout)["current"] == ids["tmr_talk"]
            # The hardware section's Next button, with the rundown's own token.
            readme = (ROOT / "README.md").read_text()
            line = next(x for x in readme.splitlines()
                        if x.startswith("curl -X POST http://127.0.0.1:8000/api/v1/rundowns/"))
            token = show["urls"]["control"].split("#token=", 1)[1]
            pressed = subprocess.run(
                ["bash", "-c", line.replace("http://127.0.0.1:8000", server.base)
                 .replace("rnd_…", show["id"]).replace("ctl_…", token)
                 .replace("curl ", "curl -sS ", 1)], capture_output=True, text=True, timeout=20)
            assert orjson.loads(pressed.stdout)["current"] == ids["tmr_qa"], pressed.stderr
    finally:
        server.stop()
