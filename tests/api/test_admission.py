"""A request's way in on Redis: one round trip for a read with an API key or a timer's control
token, one for a write with an API key (its way in goes with its commit), and a key revoked on
one process refused by every process at once although each keeps the keys it has seen."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from server.engines import redis_keys as keys
from tests.servers import RedisServer, Server, client, make_key


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


class Monitor:
    """Every command Redis runs meanwhile (MONITOR), as the lines it prints."""

    def __init__(self, redis: RedisServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", redis.port), timeout=10)
        self.sock.sendall(b"MONITOR\r\n")
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.ended = threading.Event()

    def _read(self) -> None:
        pending = b""
        while not self.ended.is_set():
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            pending += chunk
            *whole, pending = pending.split(b"\r\n")
            for line in whole:
                self.lines.append(line.decode(errors="replace"))
                if '"monitor-end"' in self.lines[-1]:
                    self.ended.set()

    def __enter__(self) -> Monitor:
        self.reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ended.wait(10)
        self.sock.close()


def sent_by_clients(lines: list[str], *words: str) -> list[str]:
    """The commands clients sent (not those a script ran) that mention any of `words`."""
    return [line for line in lines if " lua] " not in line and any(w in line for w in words)]


def test_a_read_is_one_round_trip_and_so_is_a_write(redis, tmp_path):
    server = Server(redis.url, tmp_path).start()
    key = make_key(redis.url)
    try:
        with client(server, key) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            key_id = next(k["id"] for k in api.get("/keys").json()["data"])  # and knows it
            # Loads the write's script, which happens once for a Redis server.
            assert api.post(f"/timers/{timer['id']}/adjust",
                            json={"seconds": 1}).status_code == 200
            account_id = api.get("/account").json()["id"]
            with Monitor(redis) as monitor:
                for _ in range(10):
                    assert api.get(f"/timers/{timer['id']}").status_code == 200
                redis.command("ECHO", "monitor-middle")
                for n in range(10):
                    state = "running" if n % 2 == 0 else "paused"
                    assert api.patch(f"/timers/{timer['id']}/state",
                                     json={"state": state}).status_code == 200
                redis.command("ECHO", "monitor-end")
        middle = next(n for n, line in enumerate(monitor.lines) if "monitor-middle" in line)
        ours = (timer["id"], key_id, account_id)
        reads = sent_by_clients(monitor.lines[:middle], *ours)
        writes = sent_by_clients(monitor.lines[middle:], *ours)
        assert len(reads) == 10, reads
        assert len(writes) == 10, "\n".join(w[:120] for w in writes)
        assert all("EVALSHA" in line for line in writes), writes
    finally:
        server.stop()


def test_a_control_tokens_read_is_one_round_trip_that_never_shows_the_token(redis, tmp_path):
    server = Server(redis.url, tmp_path).start()
    try:
        with client(server, make_key(redis.url)) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            token = timer["urls"]["control"].split("#token=", 1)[1]
            with client(server, token) as box:
                assert box.get(f"/timers/{timer['id']}").status_code == 200  # script loaded
                with Monitor(redis) as monitor:
                    for _ in range(10):
                        assert box.get(f"/timers/{timer['id']}").status_code == 200
                    redis.command("ECHO", "monitor-end")
        assert len(sent_by_clients(monitor.lines, timer["id"])) == 10, monitor.lines
        assert not [line for line in monitor.lines if token[4:] in line]
    finally:
        server.stop()


def test_a_key_revoked_on_one_process_is_refused_by_both_at_once(redis, tmp_path):
    first, second = Server(redis.url, tmp_path).start(), Server(redis.url, tmp_path).start()
    key = make_key(redis.url, account="acme")
    other = make_key(redis.url, account="acme")
    try:
        with client(first, key) as on_first, client(second, key) as on_second, \
                client(second, other) as other_on_second:
            timer = on_first.post("/timers", json={"type": "countdown", "duration": 60}).json()
            state = f"/timers/{timer['id']}/state"
            # Both processes know the keys and the timer, so a write would go in one trip.
            for api in (on_first, on_second, other_on_second):
                assert api.get("/timers").status_code == 200
                assert api.post(f"/timers/{timer['id']}/adjust",
                                json={"seconds": 1}).status_code == 200
            mine = next(k for k in on_first.get("/keys").json()["data"] if k["current"])
            assert on_first.delete(f"/keys/{mine['id']}").status_code == 200
            for api in (on_first, on_second):
                for answer in (api.get("/timers"), api.patch(state, json={"action": "start"}),
                               api.post(f"/timers/{timer['id']}/adjust", json={"seconds": 5})):
                    assert answer.status_code == 401
                    assert answer.json()["error"]["message"] == "this API key has been revoked"
            assert other_on_second.get("/timers").status_code == 200
            after = other_on_second.get(f"/timers/{timer['id']}").json()
            assert (after["state"], after["version"]) == ("idle", timer["version"] + 3)
    finally:
        first.stop()
        second.stop()


def test_an_unknown_key_is_refused(redis, tmp_path):
    server = Server(redis.url, tmp_path).start()
    try:
        with httpx.Client(base_url=f"{server.base}/api/v1", timeout=10,
                          headers={"Authorization": "Bearer ck_live_" + "x" * 32}) as api:
            for _ in range(2):  # a refused key is not kept
                answer = api.get("/timers")
                assert answer.status_code == 401
                assert answer.json()["error"]["message"] == "invalid API key"
    finally:
        server.stop()


def test_a_write_over_the_plans_budget_is_refused_and_changes_nothing(redis, tmp_path):
    server = Server(redis.url, tmp_path).start()
    try:
        with client(server, make_key(redis.url, plan="free")) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 600}).json()
            adjust = f"/timers/{timer['id']}/adjust"
            answers = [api.post(adjust, json={"seconds": 1}) for _ in range(30)]
            assert [a.status_code for a in answers] == [200] * 29 + [429]
            refused = answers[-1]
            assert refused.json()["error"]["type"] == "rate_limited"
            assert refused.headers["X-RateLimit-Remaining"] == "0"
            assert int(refused.headers["Retry-After"]) >= 1
            assert answers[-2].headers["X-RateLimit-Remaining"] == "0"
        shards = int(redis.command("GET", keys.SHARDS).split(b"\r\n")[1])
        stored = redis.command("HGET", keys.Keyspace(shards).timer(timer["id"]), "version")
        assert stored.split(b"\r\n")[1] == str(timer["version"] + 29).encode()
    finally:
        server.stop()
