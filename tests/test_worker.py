"""`castimer worker`'s log: what it says on start, a Redis outage reported once (and its end
once), and no webhook URL at info (a URL may carry a secret)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server import accounts, commit, ids
from server.clock import now_ms
from server.engines import create_engine, redacted
from server.engines.outage import SETTLE_S, Outage
from tests.servers import RedisServer, free_port
from tests.webhooks.receiver import Receiver

UNREACHABLE = "the store is unreachable"
BACK = "the store answers again"


class Worker:
    def __init__(self, engine_url: str, workdir: Path) -> None:
        self.log = workdir / "worker.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "worker", "--engine", engine_url],
                env={**os.environ, "CASTIMER_SCHEDULER_POLL": "0.2",
                     "CASTIMER_WEBHOOK_POLL": "0.2", "CASTIMER_ALLOW_PRIVATE_WEBHOOKS": "1"},
                stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def run_countdown_with_webhook(url: str, webhook_url: str) -> None:
    async def make() -> None:
        engine = create_engine(url)
        await engine.open()
        try:
            account = await accounts.add_account(engine, ids.new_id("w-"), "pro", now_ms())
            timer = await commit.create(engine, account.id, {
                "type": "countdown", "duration": 1, "webhook_url": webhook_url})
            await commit.command(engine, account.id, timer.id, "start")
        finally:
            await engine.close()

    asyncio.run(make())


def test_worker_logs_a_redis_outage_once_and_its_end_once_and_no_webhook_urls(redis, tmp_path):
    worker = Worker(redis.url, tmp_path)
    try:
        worker.wait_for("running the scheduler and the webhook dispatcher on " + redis.url)
        with Receiver() as hooks:
            secret_path = "/hooks/sekrit-path-token?sig=sekrit-query-token"
            run_countdown_with_webhook(redis.url, hooks.url(secret_path))
            hooks.wait("/hooks/sekrit-path-token?sig=sekrit-query-token", 2)  # started, done

            redis.kill()
            worker.wait_for(UNREACHABLE)
            time.sleep(2.5)  # a dozen polls of the scheduler and of the dispatcher fail
            redis.start()
            worker.wait_for(BACK)
            # Everything works again: a deadline fires and its webhooks go out.
            run_countdown_with_webhook(redis.url, hooks.url("/after"))
            hooks.wait("/after", 2)
            time.sleep(0.5)
    finally:
        worker.stop()
    log = worker.output()
    assert log.count(UNREACHABLE) == 1, log
    assert log.count(BACK) == 1, log
    assert "sekrit" not in log and "/after" not in log, log


def test_worker_names_what_it_runs_and_its_engine_without_the_password(tmp_path):
    port = free_port()  # nothing listens: the worker starts anyway and waits for Redis
    worker = Worker(f"redis://:hunter2@127.0.0.1:{port}/0?password=hunter3", tmp_path)
    try:
        worker.wait_for("castimer worker: running the scheduler and the webhook dispatcher on "
                        f"redis://127.0.0.1:{port}/0")
        worker.wait_for(UNREACHABLE)
        time.sleep(1.0)
    finally:
        worker.stop()
    assert worker.output().count(UNREACHABLE) == 1, worker.output()
    assert "hunter" not in worker.output()


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@host:6379/0", "redis://host:6379/0"),
    ("rediss://user:pw@host/1?socket_timeout=2&password=pw", "rediss://user@host/1?socket_timeout=2"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    ("sqlite:///castimer.db", "sqlite:///castimer.db"),
    ("sqlite:////var/lib/castimer/castimer.db", "sqlite:////var/lib/castimer/castimer.db"),
])
def test_engine_urls_are_shown_without_passwords(url, shown):
    assert redacted(url) == shown


def test_an_outage_is_reported_once_and_a_straggler_after_its_end_is_not_a_new_one(caplog):
    now = [0.0]
    outage = Outage(clock=lambda: now[0])
    caplog.set_level("WARNING", "castimer.engines")
    for _ in range(20):  # several callers failing several times a second
        outage.failed("refused", "scheduler")
        now[0] += 0.1
    outage.answered("scheduler")
    outage.answered("scheduler")
    now[0] += 0.2
    outage.failed("a call that began before the store came back", "scheduler")
    outage.answered("scheduler")
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0].split(",")[0] for line in lines] == [UNREACHABLE, BACK]
    assert "after 2.0 s" in lines[1]
    # A failure that lasts is a new outage, even right after the last one.
    outage.failed("refused", "scheduler")
    now[0] += SETTLE_S
    outage.failed("refused", "scheduler")
    outage.answered("scheduler")
    assert len(caplog.records) == 4


def test_an_outage_ends_only_when_every_failing_part_answers(caplog):
    """The scheduler's polls succeeding say nothing of a subscription the store refuses."""
    now = [0.0]
    outage = Outage(clock=lambda: now[0])
    caplog.set_level("WARNING", "castimer.engines")
    outage.failed("SUBSCRIBE refused", "pub/sub")
    outage.failed("refused", "scheduler")
    now[0] += SETTLE_S
    outage.failed("SUBSCRIBE refused", "pub/sub")
    for _ in range(10):
        outage.answered("scheduler")
        now[0] += 1
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [UNREACHABLE]
    outage.answered("pub/sub")
    assert len(caplog.records) == 2 and caplog.records[1].getMessage().startswith(BACK)
