"""`GET /metrics`: what it counts, who may scrape it, and that under `--workers 2` any scrape
sees both workers' counts (prometheus_client's multiprocess mode, set up by `castimer serve`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import sqlite_url
from tests.servers import RedisServer, Server, client, make_key
from tests.webhooks.conftest import HOOK_ENV
from tests.webhooks.receiver import Answer, Receiver
from tests.ws.helpers import receive, until, viewer

GET_TIMER = "/api/v1/timers/{timer_id}"


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for n, found, v in samples(text)
               if n == name and labels.items() <= found.items())


def scrape(server: Server, **headers: str) -> str:
    answer = httpx.get(f"{server.base}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


@pytest.fixture
def lone_server(tmp_path) -> Iterator[Server]:
    running = Server(sqlite_url(tmp_path), tmp_path, env=HOOK_ENV).start()
    yield running
    running.stop()


def test_requests_are_counted_by_route_template_method_and_status(lone_server):
    key = make_key(lone_server.engine_url)
    with client(lone_server, key) as api:
        timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
        for _ in range(3):
            assert api.get(f"/timers/{timer['id']}").status_code == 200
        assert api.get("/timers/tmr_nosuchtimer").status_code == 404
        assert api.put(f"/timers/{timer['id']}", json={}).status_code == 405
        # Under the API's mount but served by none of its routes; the connection lives on.
        assert api.get("/nowhere").status_code == 404
        assert api.get(f"/timers/{timer['id']}").status_code == 200
    assert httpx.get(f"{lone_server.base}/no/such/page/tmr_x").status_code == 404
    text = scrape(lone_server)
    latency = "castimer_http_request_duration_seconds_count"
    assert value(text, latency, route=GET_TIMER, method="GET", status="200") == 4
    assert value(text, latency, route=GET_TIMER, method="GET", status="404") == 1
    assert value(text, latency, route=GET_TIMER, method="PUT", status="405") == 1
    assert value(text, latency, route="/api/v1/timers", method="POST", status="201") == 1
    assert value(text, latency, route="unmatched", status="404") == 2
    assert "tmr_" not in text  # ids never become labels
    assert value(text, "castimer_commits_total", result="committed") == 1
    assert value(text, "castimer_store_up") == 1


def test_sockets_ticks_lateness_commits_and_webhooks_are_counted(lone_server):
    key = make_key(lone_server.engine_url)
    with Receiver() as hooks, client(lone_server, key) as api:
        hooks.answers["/refuses"] = Answer(status=500)
        timer = api.post("/timers", json={"type": "countdown", "duration": 2,
                                          "webhook_url": hooks.url("/hook")}).json()

        async def watch() -> None:
            async with await viewer(lone_server, timer["id"]) as watching:
                await receive(watching)  # the snapshot: the socket is counted
                assert value(scrape(lone_server), "castimer_websockets", kind="viewer") == 1
                api.patch(f"/timers/{timer['id']}/state", json={"state": "running"})
                await until(watching, "tick", timeout=3)
                await until(watching, "state", timeout=5, event="timer.completed")

        asyncio.run(watch())
        hooks.wait("/hook", 2)  # timer.started, timer.completed
        other = api.post("/timers", json={"type": "countdown", "duration": 60,
                                          "webhook_url": hooks.url("/refuses")}).json()
        api.post(f"/timers/{other['id']}/webhooks/test")
        hooks.wait("/refuses", 1)
        deadline = time.monotonic() + 10
        while True:
            text = scrape(lone_server)
            attempts = "castimer_webhook_attempts_total"
            if (value(text, attempts, outcome="delivered") >= 2
                    and value(text, attempts, outcome="rejected") >= 1
                    and value(text, "castimer_websockets", kind="viewer") == 0):
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
    assert value(text, "castimer_ticks_sent_total") >= 1
    assert value(text, "castimer_scheduler_lateness_seconds_count") == 1  # the completion
    assert value(text, "castimer_commits_total", result="committed") >= 4
    assert value(text, "castimer_webhook_delivery_seconds_count") >= 2
    assert value(text, "castimer_outbox_pending") >= 0 and "castimer_outbox_due" in text


def test_without_a_token_only_direct_loopback_clients_may_scrape(lone_server, tmp_path):
    assert scrape(lone_server)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "True-Client-IP",
                   "CF-Connecting-IP", "X-Client-IP", "Via"):
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 and rewrites the client address from
        # it; a proxy on this host would make every client look local, so proxied is refused.
        answer = httpx.get(f"{lone_server.base}/metrics", headers={header: "127.0.0.1"})
        assert answer.status_code == 403, header
        assert "CASTIMER_METRICS_TOKEN" in answer.json()["error"]["message"]
    outside = next((a for a in subprocess.run(["hostname", "-I"], capture_output=True,
                                              text=True).stdout.split() if "." in a), None)
    if outside is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    exposed = Server(sqlite_url(tmp_path / "x"), tmp_path, args=("--host", "0.0.0.0"))
    (tmp_path / "x").mkdir()
    exposed.start()
    try:
        answer = httpx.get(f"http://{outside}:{exposed.port}/metrics", timeout=10)
        assert answer.status_code == 403
        assert httpx.get(f"http://{outside}:{exposed.port}/healthz").status_code == 200
    finally:
        exposed.stop()


def test_with_a_token_the_bearer_token_is_required(tmp_path):
    guarded = Server(sqlite_url(tmp_path), tmp_path,
                     env={"CASTIMER_METRICS_TOKEN": "metrics-s3cret"}).start()
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Bearer metrics-s3cre"},
                        {"Authorization": "metrics-s3cret"}):
            answer = httpx.get(f"{guarded.base}/metrics", headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "metrics-s3cret" not in answer.text
        assert scrape(guarded, Authorization="Bearer metrics-s3cret")
        assert scrape(guarded, Authorization="Bearer metrics-s3cret",
                      **{"X-Forwarded-For": "203.0.113.9"})  # through a proxy: fine
    finally:
        guarded.stop()


# -- two workers ------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def workers_of(server: Server) -> dict[int, Path]:
    """uvicorn's worker processes → the metrics directory each was started with."""
    assert server.process is not None
    found = {}
    for pid in children(server.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"spawn_main" in command:
            [directory] = [v.split(b"=", 1)[1] for v in environ
                           if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
            found[pid] = Path(directory.decode())
    return found


def counted_by(directory: Path, pid: int, scratch: Path) -> float:
    """GET /timers/{id} requests counted by one worker, from its own files alone."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    for path in directory.glob(f"*_{pid}.db"):
        shutil.copy(path, scratch)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(scratch))
    return value(generate_latest(registry).decode(),
                 "castimer_http_request_duration_seconds_count", route=GET_TIMER)


def test_a_scrape_of_either_of_two_workers_sees_both_workers_counts(tmp_path):
    redis = RedisServer(tmp_path).start()
    env = {"CASTIMER_SECRET_KEY": "k" * 32}
    server = Server(redis.url, tmp_path, env=env, args=("--workers", "2"))
    try:
        server.start()
        deadline = time.monotonic() + 20
        while len(workers := workers_of(server)) < 2:
            assert time.monotonic() < deadline, "two workers did not start"
            time.sleep(0.1)
        [directory] = set(workers.values())  # one directory for both, made by serve
        assert directory.is_dir() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
        key = make_key(redis.url)
        with client(server, key) as api:
            timer = api.post("/timers", json={"type": "countdown", "duration": 60}).json()
        sent = 0
        while not all(counted_by(directory, pid, tmp_path / "one") for pid in workers):
            assert sent < 400, "the requests all went to one worker"
            # A new connection each time: the kernel hands it to either worker.
            assert httpx.get(f"{server.base}/api/v1/timers/{timer['id']}",
                             headers={"Authorization": f"Bearer {key}"}).status_code == 200
            sent += 1
        for _ in range(6):  # new connections too: each scrape may be either worker's
            text = scrape(server)
            assert value(text, "castimer_http_request_duration_seconds_count",
                         route=GET_TIMER, status="200") == sent

        # A worker that dies is replaced by uvicorn; its open sockets must stop counting.
        async def watch_then_kill() -> float:
            async with await viewer(server, timer["id"]) as one, \
                    await viewer(server, timer["id"]) as two:
                await receive(one)
                await receive(two)
                assert value(scrape(server), "castimer_websockets", kind="viewer") == 2
                for pid in workers:
                    os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while len(set(workers_of(server)) - set(workers)) < 2:
                assert time.monotonic() < deadline, "uvicorn did not replace its workers"
                await asyncio.sleep(0.1)
            while True:
                try:
                    return value(scrape(server), "castimer_websockets", kind="viewer")
                except (httpx.TransportError, AssertionError):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)

        assert asyncio.run(watch_then_kill()) == 0
    finally:
        # Two workers shutting down on a loaded machine can take a while; a SIGKILL would
        # leave the directory behind, which is what the assertion below is about.
        server.stop(patience=60)
        redis.stop()
    assert not directory.exists(), "serve removes its metrics directory when it stops"
