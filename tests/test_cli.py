"""The command line: serve's first-run key, keys create/list/revoke, worker, and its errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx

from server import commit, timers
from server.engines import create_engine
from tests.conftest import sqlite_url
from tests.servers import Server, client


def castimer(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_serve_prints_a_working_development_key_once_and_its_urls_every_time(tmp_path):
    url = sqlite_url(tmp_path)
    first = Server(url, tmp_path).start()
    try:
        key = first.printed_key()
        with client(first, key) as api:
            assert api.get("/account").json()["name"] == "development"
    finally:
        first.stop()
    again = Server(url, tmp_path).start()
    try:
        printed = again.output()
        assert "ck_live_" not in printed  # the store has an account: no new key
        assert f"Start here: http://127.0.0.1:{again.port}/\n" in printed
        assert f"API: http://127.0.0.1:{again.port}/api/v1\n" in printed
        assert f"Dashboard: http://127.0.0.1:{again.port}/dashboard\n" in printed
    finally:
        again.stop()


def test_keys_create_prints_the_key_alone_and_list_shows_only_prefixes(tmp_path):
    url = sqlite_url(tmp_path)
    made = castimer("keys", "create", "--account", "acme", "--plan", "pro", "--engine", url)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith("ck_live_") and len(key) > 30
    listing = castimer("keys", "list", "--engine", url)
    assert key[:16] in listing.stdout and key not in listing.stdout
    assert "acme" in listing.stdout and "pro" in listing.stdout and "live" in listing.stdout
    second = castimer("keys", "create", "--account", "acme", "--engine", url).stdout.strip()
    assert second != key
    other_plan = castimer("keys", "create", "--account", "acme", "--plan", "enterprise",
                          "--engine", url)
    assert other_plan.returncode == 2 and "on the pro plan" in other_plan.stderr
    revoked = castimer("keys", "revoke", key[:16], "--engine", url)
    assert revoked.returncode == 0 and key[:16] in revoked.stdout
    assert "revoked" in castimer("keys", "list", "--engine", url).stdout


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    url = sqlite_url(tmp_path)
    for args, says in [
        (("keys", "revoke", "ck_live_zzzz", "--engine", url), "no live key starts with"),
        (("keys", "revoke", "ck_", "--engine", url), "give at least 12 characters"),
        (("keys", "create", "--plan", "platinum", "--engine", url), "plan must be one of"),
        (("keys", "list", "--engine", "postgres://x"), "engine URL must start with sqlite://"),
        (("serve", "--workers", "2", "--engine", url), "use a redis:// engine"),
        (("serve", "--workers", "2", "--engine", "redis://127.0.0.1:1/0"),
         "set CASTIMER_SECRET_KEY"),
        (("keys", "list", "--engine", "redis://127.0.0.1:1/0"), "cannot be reached"),
        (("keys", "list", "--engine", "sqlite:////nonexistent/dir/x.db"), "cannot be reached"),
    ]:
        done = castimer(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr


def test_environment_engine_is_used_and_the_flag_wins(tmp_path):
    env_db, flag_db = tmp_path / "env", tmp_path / "flag"
    env_db.mkdir()
    flag_db.mkdir()
    env = {**os.environ, "CASTIMER_ENGINE": sqlite_url(env_db)}
    subprocess.run([sys.executable, "-m", "server.cli", "keys", "create"], env=env,
                   check=True, capture_output=True, timeout=60)
    subprocess.run([sys.executable, "-m", "server.cli", "keys", "create", "--engine",
                    sqlite_url(flag_db)], env=env, check=True, capture_output=True, timeout=60)
    assert (env_db / "castimer.db").exists() and (flag_db / "castimer.db").exists()
    listed = subprocess.run([sys.executable, "-m", "server.cli", "keys", "list"], env=env,
                            capture_output=True, text=True, timeout=60).stdout
    assert listed.count("ck_live_") == 1


def test_worker_fires_deadlines_without_http(tmp_path):
    url = sqlite_url(tmp_path)

    async def start_countdown() -> str:
        engine = create_engine(url)
        await engine.open()
        timer = await commit.create(engine, "acct_w", {"type": "countdown", "duration": 1})
        await commit.command(engine, "acct_w", timer.id, "start")
        await engine.close()
        return timer.id

    timer_id = asyncio.run(start_countdown())
    worker = subprocess.Popen([sys.executable, "-m", "server.cli", "worker", "--engine", url],
                              env={**os.environ, "CASTIMER_SCHEDULER_POLL": "0.2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async def state() -> str:
            engine = create_engine(url)
            await engine.open()
            try:
                return timers.load(await engine.get_timer(timer_id)).state
            finally:
                await engine.close()

        deadline = time.monotonic() + 10
        while asyncio.run(state()) != "completed" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert asyncio.run(state()) == "completed"
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=10)
        assert worker.returncode == 0, errors


def test_openapi_document_is_valid_and_describes_every_route(tmp_path):
    from openapi_spec_validator import validate
    from starlette.routing import Mount

    from server.app import app

    document = None
    server = Server(sqlite_url(tmp_path), tmp_path).start()
    try:
        document = httpx.get(f"{server.base}/api/v1/openapi.json").json()
    finally:
        server.stop()
    validate(document)
    [mount] = [r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1"]
    served = {("/api/v1" + route.path, method.lower()) for route in mount.routes
              for method in route.methods or () if method != "HEAD"}
    served |= {("/healthz", "get"), ("/readyz", "get")}
    # The API's index (a page pointing to the docs, inside the mount so that API requests
    # meet the mount first) is not an operation.
    served -= {("/api/v1/", "get")}
    # Every operation is reached at the one server plus its path, as a generated client does.
    assert document["servers"] == [{"url": "/"}]
    assert not any("servers" in op for ops in document["paths"].values() for op in ops.values()
                   if isinstance(op, dict))
    documented = {(path, method)
                  for path, ops in document["paths"].items() for method in ops
                  if method != "parameters"}
    assert served == documented


def test_accounts_list_shows_plans_and_usage_and_set_plan_changes_a_live_accounts_plan(
        tmp_path):
    url = sqlite_url(tmp_path)
    server = Server(url, tmp_path).start()
    try:
        key = server.printed_key()
        with client(server, key) as api:
            for _ in range(3):
                api.get("/timers")
            assert api.get("/account").json()["plan"] == "enterprise"
            refused = castimer("keys", "create", "--account", "development", "--plan", "pro",
                               "--engine", url, cwd=tmp_path)
            assert refused.returncode == 2
            assert "castimer accounts set-plan development pro" in refused.stderr
            changed = castimer("accounts", "set-plan", "development", "pro", "--engine", url,
                               cwd=tmp_path)
            assert (changed.returncode, changed.stdout) == (0, "development: pro\n")
            account = api.get("/account").json()  # the running server applies it at once
            assert (account["plan"], account["limits"]["requests_per_day"]) == ("pro", 10_000)
            assert api.get("/timers").headers["X-RateLimit-Limit"] == "120"
            used = account["usage"]["requests_today"]
            # The server writes the day's counts within about a second; another process
            # reads them from the store.
            deadline = time.monotonic() + 5
            while True:
                listed = castimer("accounts", "list", "--engine", url, cwd=tmp_path)
                assert listed.returncode == 0, listed.stderr
                [header, row] = listed.stdout.splitlines()
                if int(row.split()[4]) >= used or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert header.split() == ["NAME", "PLAN", "PER", "MINUTE", "PER", "DAY", "TODAY",
                                      "ID"]
            assert row.split()[:4] == ["development", "pro", "120", "10000"]
            assert int(row.split()[4]) >= used
    finally:
        server.stop()
    for args, says in ((("set-plan", "nobody", "pro"), "no account named 'nobody'"),
                       (("set-plan", "development", "gold"), "plan must be one of free, pro")):
        failed = castimer("accounts", *args, "--engine", url, cwd=tmp_path)
        assert failed.returncode == 2 and says in failed.stderr, failed.stderr
