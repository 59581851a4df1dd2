"""The README's receiver examples, run as they are written (Python and Node), verify real
deliveries and refuse a forged one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import Server, client, free_port, make_key

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def example(language: str, marker: str) -> str:
    found = re.findall(rf"```{language}\n({re.escape(marker)}\n.*?)```", README, re.S)
    assert len(found) == 1, f"the README has no single {language} receiver example"
    return found[0]


RECEIVERS = {
    "python": lambda path: [sys.executable, str(path)],
    "js": lambda path: ["node", str(path)],
}


@pytest.mark.parametrize("language", ["python", "js"])
def test_readme_receiver_verifies_deliveries(hook_server: Server, language, tmp_path):
    marker = "# castimer webhook receiver" if language == "python" else \
        "// castimer webhook receiver"
    script = tmp_path / ("receiver.py" if language == "python" else "receiver.js")
    script.write_text(example(language, marker))
    key = make_key(hook_server.engine_url)
    with client(hook_server, key) as api:
        secret = api.get("/account").json()["webhook_secret"]
        port = free_port()
        receiver = subprocess.Popen(
            RECEIVERS[language](script), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "CASTIMER_WEBHOOK_SECRET": secret,
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
            timer = api.post("/timers", json={"type": "countdown", "duration": 60,
                                              "webhook_url": f"http://127.0.0.1:{port}/hook"})
            timer_id = timer.json()["id"]
            api.patch(f"/timers/{timer_id}/state", json={"action": "start"})
            deadline = time.monotonic() + 10
            while not (done := [d for d in api.get(f"/timers/{timer_id}/deliveries").json()[
                    "data"] if d["status"] == "succeeded"]):
                assert time.monotonic() < deadline, "the example receiver refused the delivery"
                time.sleep(0.05)
        finally:
            receiver.terminate()
            output, _ = receiver.communicate(timeout=10)
    assert f"timer.started {timer_id} {done[0]['id']}" in output
