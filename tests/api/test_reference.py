"""The reference's curl examples work against `castimer serve` with only the base URL, key and
example timer id changed; curl itself sends them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.servers import Server

EXAMPLES = (Path(__file__).parent / "data" / "reference_curl.txt").read_text()


def reference_commands() -> list[str]:
    lines = [line for line in EXAMPLES.splitlines() if not line.startswith("#")]
    return [block.strip() for block in "\n".join(lines).split("\n\n") if block.strip()]


def curl(command: str, server: Server, key: str, timer_id: str = "tmr_abc123") -> tuple[int, dict]:
    """Run one example as written, with the base URL, key and timer id swapped in."""
    command = (command.replace("https://castimer.com/api/v1", f"{server.base}/api/v1")
               .replace("YOUR_API_KEY", key).replace("tmr_abc123", timer_id))
    command = command.replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                          check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body else {}


def test_every_reference_example_works_as_written(server, key):
    events, create, get, start, delete, first, webhook = reference_commands()
    status, made = curl(create, server, key)
    assert status == 201
    assert (made["title"], made["type"], made["duration"], made["state"]) == (
        "Meeting Timer", "countdown", 1800, "idle")
    assert re.fullmatch(r"tmr_[0-9A-Za-z]{22}", made["id"])
    status, got = curl(get, server, key, made["id"])
    assert status == 200 and got["id"] == made["id"] and got["remaining_ms"] == 1_800_000
    status, running = curl(start, server, key, made["id"])
    assert status == 200 and running["state"] == "running" and running["version"] == 2
    status, log = curl(events, server, key)
    assert status == 200 and [e["event"] for e in log["data"]] == ["timer.started"]
    status, _ = curl(delete, server, key, made["id"])
    assert status == 204
    status, gone = curl(get, server, key, made["id"])
    assert status == 404 and gone["error"]["type"] == "not_found"
    status, quick = curl(first, server, key)
    assert status == 201 and quick["duration"] == 300
    # The reference's webhook example names https://yourapp.com: a public https URL is
    # accepted when the timer is created (addresses are checked when delivering).
    status, hooked = curl(webhook, server, key)
    assert status == 201 and hooked["webhook_url"] == "https://yourapp.com/webhooks/castimer"
    status, log = curl(events, server, key)
    assert [e["event"] for e in log["data"]] == ["timer.started", "timer.deleted"]


def _create(server: Server, key: str, body: dict) -> tuple[int, dict]:
    command = (f"curl -X POST https://castimer.com/api/v1/timers -H 'Authorization: Bearer "
               f"YOUR_API_KEY' -H 'Content-Type: application/json' -d '{json.dumps(body)}'")
    return curl(command, server, key)


def _state(server: Server, key: str, timer_id: str, state: str) -> tuple[int, dict]:
    _, _, _, start, *_ = reference_commands()
    return curl(start.replace('"running"', f'"{state}"'), server, key, timer_id)


def test_event_and_interval_timers_and_the_state_cycle_in_the_same_form(server, key):
    status, event = _create(server, key, {"title": "Launch", "type": "event",
                                          "target_date": "2031-05-10T14:30:00+02:00",
                                          "timezone": "Europe/Paris"})
    assert status == 201 and event["state"] == "running"
    assert event["target_date"] == "2031-05-10T14:30:00+02:00"
    status, workout = _create(server, key, {"title": "HIIT", "type": "interval", "work": 20,
                                            "rest": 10, "rounds": 8})
    assert status == 201
    assert (workout["work"], workout["rest"], workout["rounds"]) == (20, 10, 8)
    assert (workout["round"], workout["phase"], workout["remaining_ms"]) == (1, "work", 240_000)
    seen = [_state(server, key, workout["id"], s) for s in
            ("running", "paused", "running", "idle")]
    assert [(status, body["state"]) for status, body in seen] == [
        (200, "running"), (200, "paused"), (200, "running"), (200, "idle")]
    assert [body["version"] for _, body in seen] == [2, 3, 4, 5]
    events, *_ = reference_commands()
    _, log = curl(events, server, key)
    assert [(e["event"], e["timer_id"]) for e in log["data"]] == [
        ("timer.started", event["id"]), ("timer.started", workout["id"]),
        ("timer.paused", workout["id"]), ("timer.resumed", workout["id"]),
        ("timer.reset", workout["id"])]
