"""The `castimer` command: serve, worker, keys, accounts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from . import __version__
from .engines.base import Engine, EngineUnavailable, Store


def _engine_url(args: argparse.Namespace) -> str:
    """--engine wins over CASTIMER_ENGINE; the choice is put in the environment before the
    settings are read, so uvicorn's workers see it too."""
    if args.engine:
        os.environ["CASTIMER_ENGINE"] = args.engine
        return str(args.engine)
    from . import settings

    return settings.ENGINE


async def _with_engine(url: str, work: Any) -> Any:
    from .engines import create_engine

    engine = create_engine(url)
    await engine.open()
    try:
        return await work(engine)
    finally:
        await engine.close()


def _fail(message: str) -> int:
    print(f"castimer: {message}", file=sys.stderr)
    return 2


class _Terminated(Exception):
    """SIGTERM arrived."""


def _terminated(signum: int, frame: Any) -> None:
    raise _Terminated


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """A fresh directory where every worker writes its metrics (prometheus_client's
    multiprocess mode), so a scrape of any worker sees them all; removed when serving ends.
    It must be in the environment before prometheus_client is first imported, here and in the
    workers. An operator's own PROMETHEUS_MULTIPROC_DIR is used as it is."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="castimer-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    # A single uvicorn process ends its graceful shutdown by raising SIGTERM again; with the
    # default action it would die there, before the directory is removed. So the signal
    # becomes an exception here, and is raised again once the directory is gone.
    previous = signal.signal(signal.SIGTERM, _terminated)
    terminated = False
    try:
        yield
    except _Terminated:
        terminated = True
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(directory, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)


def serve(args: argparse.Namespace) -> int:
    with _metrics_directory():
        return _serve(args)
    return 0  # not reached: a SIGTERM that ended serving was raised again


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from . import accounts
    from .clock import now_ms

    url = _engine_url(args)
    if args.workers > 1 and url.startswith("sqlite"):
        return _fail("the sqlite engine serves one process; use a redis:// engine for "
                     "--workers above 1")

    async def first_run(engine: Store) -> str | None:
        if await engine.count_accounts():
            return None
        _, key = await accounts.key_for(engine, "development", "enterprise", now_ms())
        return key

    from . import settings

    if args.workers > 1 and not settings.SECRET_KEY_GIVEN:
        return _fail("set CASTIMER_SECRET_KEY for --workers above 1: every worker must sign "
                     "and check dashboard sessions with the same key")
    key = asyncio.run(_with_engine(url, first_run))
    host = args.host if ":" not in args.host else f"[{args.host}]"
    if key:
        print("Castimer: a development account was created. Its API key, shown only now:\n\n"
              f"    {key}\n", flush=True)
    print(f"Start here: http://{host}:{args.port}/\n"
          f"API: http://{host}:{args.port}/api/v1\n"
          f"Dashboard: http://{host}:{args.port}/dashboard\n", flush=True)

    uvicorn.run("server.app:app", host=args.host, port=args.port, workers=args.workers,
                proxy_headers=True, log_level=args.log_level, http="server.edge:EdgeProtocol",
                # uvicorn's sans-I/O websockets, lighter per open socket (server/socket_protocol.py)
                ws="server.socket_protocol:SocketProtocol",
                ws_per_message_deflate=False, ws_max_size=settings.WS_MAX_MESSAGE,
                ws_ping_interval=settings.WS_PING_INTERVAL,
                ws_ping_timeout=settings.WS_PING_TIMEOUT,
                # Access lines are logged at info: above it, uvicorn would still build and
                # drop one per request (~9 % of a GET's CPU, docs/performance.md).
                access_log=args.log_level in ("info", "debug"))
    return 0


def worker(args: argparse.Namespace) -> int:
    """The scheduler and the webhook dispatcher without HTTP, beside or instead of `serve`."""
    import logging

    from .engines import redacted
    from .scheduler import Scheduler
    from .webhooks import dispatcher

    url = _engine_url(args)
    from . import settings

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # httpx logs every request's URL at info, and a webhook URL may carry a secret in its path
    # or query: only at debug.
    if args.log_level != "debug":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("castimer").info(
        "castimer worker: running the scheduler and the webhook dispatcher on %s",
        redacted(url))

    async def run(engine: Engine) -> None:
        deliveries = dispatcher.from_settings(engine)
        tasks = [asyncio.create_task(Scheduler(engine, poll_s=settings.SCHEDULER_POLL).run()),
                 asyncio.create_task(deliveries.run())]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        # Cancelled, given the dispatcher's grace to record what it sent, then cancelled again
        # until they end: a cancellation can be lost inside the Redis client (a read it
        # interrupts may be retried), and one lost once left a worker running after SIGTERM.
        patience = dispatcher.STOP_GRACE_S + 1
        while pending := [task for task in tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=patience)
            patience = 0.5
        await deliveries.aclose()
        for task in tasks:  # one that ended by itself, not by the cancellation: its error
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    asyncio.run(_with_engine(url, run))
    return 0


def keys(args: argparse.Namespace) -> int:
    from . import accounts, timers
    from .clock import now_ms

    url = _engine_url(args)
    if args.keys_command == "create":
        try:
            accounts.check_plan(args.plan or "free")
        except ValueError as exc:
            return _fail(str(exc))

        async def create(engine: Store) -> str:
            existing = await engine.find_account(args.account)
            if existing is not None and args.plan is not None and existing.plan != args.plan:
                raise ValueError(f"account {args.account!r} is on the {existing.plan} plan; "
                                 "--plan applies only to new accounts (change it with "
                                 f"`castimer accounts set-plan {args.account} {args.plan}`)")
            return (await accounts.key_for(engine, args.account, args.plan or "free",
                                           now_ms()))[1]

        print(asyncio.run(_with_engine(url, create)), flush=True)
        return 0
    if args.keys_command == "list":

        async def listing(engine: Store) -> list[tuple[Any, Any]]:
            found = await engine.list_api_keys()
            return [(k, await engine.get_account(k.account_id)) for k in found]

        print(f"{'PREFIX':<18} {'ACCOUNT':<20} {'PLAN':<10} {'CREATED':<24} "
              f"{'LAST USED':<24} STATUS")
        for key, account in asyncio.run(_with_engine(url, listing)):
            print(f"{key.prefix:<18} {account.name if account else '?':<20} "
                  f"{account.plan if account else '?':<10} {timers.iso(key.created_at_ms):<24} "
                  f"{timers.iso(key.last_used_ms) or '-':<24} "
                  f"{'revoked' if key.revoked_at_ms else 'live'}")
        return 0

    async def revoke(engine: Store) -> Any:
        return await accounts.revoke(engine, args.prefix, now_ms())

    try:
        revoked = asyncio.run(_with_engine(url, revoke))
    except ValueError as exc:
        return _fail(str(exc))
    print(f"revoked {revoked.prefix}…")
    return 0


def accounts_command(args: argparse.Namespace) -> int:
    from . import accounts
    from .clock import now_ms

    url = _engine_url(args)
    if args.accounts_command == "list":

        async def listing(engine: Engine) -> list[tuple[Any, int]]:
            now = now_ms()
            return [(a, await engine.usage_today(a.id, now))
                    for a in await engine.list_accounts()]

        print(f"{'NAME':<24} {'PLAN':<11} {'PER MINUTE':>10} {'PER DAY':>10} "
              f"{'TODAY':>8}  ID")
        for account, used in asyncio.run(_with_engine(url, listing)):
            rate = accounts.PLANS.get(account.plan)
            per_minute = str(rate.per_minute) if rate else "?"
            per_day = "?" if rate is None else "-" if rate.per_day is None else str(rate.per_day)
            print(f"{account.name:<24} {account.plan:<11} {per_minute:>10} {per_day:>10} "
                  f"{used:>8}  {account.id}")
        return 0
    try:
        plan = accounts.check_plan(args.plan)
    except ValueError as exc:
        return _fail(str(exc))

    async def set_plan(engine: Store) -> Any:
        account = await engine.find_account(args.name)
        return None if account is None else await engine.set_plan(account.id, plan)

    changed = asyncio.run(_with_engine(url, set_plan))
    if changed is None:
        return _fail(f"there is no account named {args.name!r}; `castimer accounts list` "
                     "shows them")
    # Each request reads its account afresh: running servers apply the plan at once.
    print(f"{changed.name}: {changed.plan}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="castimer", description="Real-time timer server.")
    top.add_argument("--version", action="version", version=f"castimer {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    engine_help = "engine URL (default: CASTIMER_ENGINE or sqlite:///castimer.db)"

    run = commands.add_parser("serve", help="serve the API, pages and websockets")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--engine", help=engine_help)
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--log-level", default="info",
                     choices=["critical", "error", "warning", "info", "debug"])
    run.set_defaults(handler=serve)

    background = commands.add_parser(
        "worker", help="the scheduler and the webhook dispatcher, without HTTP")
    background.add_argument("--engine", help=engine_help)
    background.add_argument("--log-level", default="info",
                            choices=["critical", "error", "warning", "info", "debug"])
    background.set_defaults(handler=worker)

    key = commands.add_parser("keys", help="create, list and revoke API keys")
    key_commands = key.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="print a new key alone on stdout")
    create.add_argument("--account", default="default",
                        help="account name; created if missing (default: default)")
    create.add_argument("--plan", help="free (default), pro, enterprise or unlimited; for new "
                        "accounts")
    create.add_argument("--engine", help=engine_help)
    listing = key_commands.add_parser("list", help="list keys by prefix")
    listing.add_argument("--engine", help=engine_help)
    revoke = key_commands.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix")
    revoke.add_argument("--engine", help=engine_help)
    key.set_defaults(handler=keys)

    account = commands.add_parser("accounts", help="list accounts, change an account's plan")
    account_commands = account.add_subparsers(dest="accounts_command", required=True)
    listing = account_commands.add_parser(
        "list", help="every account with its plan, its limits and today's requests")
    listing.add_argument("--engine", help=engine_help)
    set_plan = account_commands.add_parser("set-plan", help="put an account on another plan")
    set_plan.add_argument("name", help="the account's name")
    set_plan.add_argument("plan", help="free, pro, enterprise or unlimited")
    set_plan.add_argument("--engine", help=engine_help)
    account.set_defaults(handler=accounts_command)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # a bad engine URL and the like: a message, not a traceback
        return _fail(str(exc))
    except (EngineUnavailable, sqlite3.Error, OSError) as exc:
        return _fail(f"the engine cannot be reached: {exc}")


if __name__ == "__main__":
    sys.exit(main())
