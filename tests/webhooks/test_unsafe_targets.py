"""Through a real server with the default settings (private targets not allowed): no webhook
reaches a canary listening on loopback, whatever address form or host name points at it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from server import commit
from tests.conftest import opened
from tests.servers import Server, client, make_key


class Canary:
    """Counts every TCP connection made to it, on 127.0.0.1 and ::1 (the same port)."""

    def __init__(self) -> None:
        self.connections: list[str] = []
        self._open = True
        self._v4 = socket.create_server(("127.0.0.1", 0))
        self.port = self._v4.getsockname()[1]
        self._v6 = socket.create_server(("::1", self.port), family=socket.AF_INET6)
        for listener in (self._v4, self._v6):
            listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._open:
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(str(peer))
            conn.close()

    def close(self) -> None:
        self._open = False
        self._v4.close()
        self._v6.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listening = Canary()
    yield listening
    listening.close()


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    with client(server, make_key(server.engine_url)) as http:
        yield http


LITERALS = ["127.0.0.1", "[::1]", "0.0.0.0", "10.0.0.1", "169.254.169.254",
            "[::ffff:127.0.0.1]", "2130706433", "0177.0.0.1", "localhost"]


def test_literal_private_targets_are_refused_when_set(api, canary):
    for host in LITERALS:
        answer = api.post("/timers", json={"type": "countdown", "duration": 60,
                                           "webhook_url": f"https://{host}:{canary.port}/"})
        assert answer.status_code == 422, (host, answer.text)
        assert answer.json()["error"]["param"] == "webhook_url"
    timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
    for host in LITERALS:
        answer = api.patch(f"/timers/{timer['id']}",
                           json={"webhook_url": f"https://{host}:{canary.port}/"})
        assert answer.status_code == 422, (host, answer.text)
    assert canary.connections == []


def wait_for_first_attempt(api: httpx.Client, timer_id: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        [delivery] = api.get(f"/timers/{timer_id}/deliveries").json()["data"]
        if delivery["attempt_count"]:
            [attempt] = api.get(f"/deliveries/{delivery['id']}").json()["attempts"]
            return attempt
        assert time.monotonic() < deadline, "no attempt was made"
        time.sleep(0.05)


def test_literal_private_targets_already_stored_are_refused_at_connect_time(server, api,
                                                                            canary):
    """URLs that got into the store some other way (an older release, a change of
    CASTIMER_ALLOW_PRIVATE_WEBHOOKS) meet the connect-time guard too."""
    account = api.get("/account").json()["id"]

    async def store(url: str) -> str:
        async with opened(server.engine_url) as engine:
            timer = await commit.create(engine, account, {
                "type": "countdown", "duration": 60, "webhook_url": url})
            return timer.id

    timer_ids = [asyncio.run(store(f"http://{host}:{canary.port}/hook"))
                 for host in ("127.0.0.1", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]",
                              "2130706433", "0x7f.1")]
    for timer_id in timer_ids:
        assert api.patch(f"/timers/{timer_id}/state",
                         json={"action": "start"}).status_code == 200
    for timer_id in timer_ids:
        attempt = wait_for_first_attempt(api, timer_id)
        assert attempt["status_code"] is None
        assert ("private or reserved address" in attempt["error"]
                or attempt["error"].startswith("InvalidURL")), attempt
    assert canary.connections == []


def test_a_host_name_that_resolves_to_loopback_is_refused_at_connect_time(api, canary):
    names = [socket.gethostname()]  # /etc/hosts maps it to 127.0.0.1 on these machines
    for name in names:
        resolved = {info[4][0] for info in socket.getaddrinfo(name, canary.port)}
        assert resolved and all(not ipaddress.ip_address(a).is_global for a in resolved), (
            f"this test needs {name!r} to resolve to loopback, it gives {resolved}")
    timers = []
    for name in names:
        created = api.post("/timers", json={
            "type": "countdown", "duration": 60,
            "webhook_url": f"https://{name}:{canary.port}/hook"})
        assert created.status_code == 201, created.text  # a name is judged when connecting
        timers.append(created.json()["id"])
        api.patch(f"/timers/{timers[-1]}/state", json={"action": "start"})
    for timer_id in timers:
        attempt = wait_for_first_attempt(api, timer_id)
        assert attempt["status_code"] is None
        assert "private or reserved address" in attempt["error"]
        assert "127.0.0.1" not in attempt["error"]  # internal resolution is not told
        [delivery] = api.get(f"/timers/{timer_id}/deliveries").json()["data"]
        assert delivery["status"] == "pending"  # the schedule goes on: DNS may change
    assert canary.connections == []
