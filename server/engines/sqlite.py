"""The embedded engine: stdlib sqlite3 in WAL mode with synchronous=FULL, on one dedicated
thread, with pub/sub inside the process.

Use it for one server process: zero set-up, and every commit is on disk before it is
acknowledged. Outgrow it when you need more than one process (`--workers`, several hosts):
pub/sub does not cross processes here, and rate-limit budgets live in this process's memory.
Several processes may still open the same file (the CLI creating keys while a server runs, a
`castimer worker` beside `castimer serve`): SQLite's locks and the version check keep every
commit exactly-once, and schedulers poll instead of being woken.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import _gcra
from .base import (
    DEADLINES_CHANNEL,
    OUTBOX_CHANNEL,
    Account,
    ApiKey,
    Commit,
    EngineUnavailable,
    EventRecord,
    RateLimit,
    RateStatus,
    Receiver,
    VersionConflict,
    deliver,
    timer_channel,
)

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, plan TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL, webhook_secret TEXT NOT NULL,
    previous_webhook_secret TEXT, previous_secret_expires_ms INTEGER);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE, created_at_ms INTEGER NOT NULL,
    last_used_ms INTEGER, revoked_at_ms INTEGER);
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, version INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS timers_by_account ON timers (account_id, created_at_ms, id);
CREATE TABLE IF NOT EXISTS timer_commits (
    timer_id TEXT PRIMARY KEY, commit_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deadlines (timer_id TEXT PRIMARY KEY, due_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deadlines_by_due ON deadlines (due_ms);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
    timer_id TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_account ON events (account_id, seq);
CREATE INDEX IF NOT EXISTS events_by_timer ON events (timer_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, timer_id TEXT NOT NULL,
    event_id TEXT NOT NULL, url TEXT NOT NULL, body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', due_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, lease_until_ms INTEGER);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, due_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_timer ON deliveries (timer_id);
"""


def _path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"a sqlite engine URL looks like sqlite:///castimer.db (relative) or "
                         f"sqlite:////abs/path.db, got {url!r}")
    return url[len(prefix):]


class SQLiteEngine:
    def __init__(self, url: str) -> None:
        self.url = url
        self._path = _path(url)
        self._db: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="castimer-sqlite")
        self._receivers: dict[str, list[Receiver]] = defaultdict(list)
        self._rates: dict[str, tuple[float, int, int]] = {}

    # -- plumbing -----------------------------------------------------------------------------

    async def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        def call() -> _T:
            if self._db is None:
                raise EngineUnavailable("the sqlite engine is not open")
            try:
                return work(self._db)
            except sqlite3.OperationalError as exc:
                raise EngineUnavailable(f"sqlite: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def open(self) -> None:
        def connect() -> None:
            if self._db is not None:
                return
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.executescript(_SCHEMA)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._thread, connect)

    async def close(self) -> None:
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._thread, disconnect)
        self._receivers.clear()

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    # -- accounts and keys --------------------------------------------------------------------

    async def add_account(self, account: Account) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)", _row(account))
            except sqlite3.IntegrityError:
                raise ValueError(f"an account named {account.name!r} exists already") from None

        await self._run(insert)

    async def get_account(self, account_id: str) -> Account | None:
        return await self._one_account("id", account_id)

    async def find_account(self, name: str) -> Account | None:
        return await self._one_account("name", name)

    async def _one_account(self, column: str, value: str) -> Account | None:
        row = await self._run(lambda db: db.execute(
            f"SELECT * FROM accounts WHERE {column} = ?", (value,)).fetchone())  # noqa: S608
        return Account(*row) if row else None

    async def count_accounts(self) -> int:
        row = await self._run(lambda db: db.execute("SELECT count(*) FROM accounts").fetchone())
        return int(row[0])

    async def add_api_key(self, key: ApiKey) -> None:
        await self._run(lambda db: db.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)", _row(key)))

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._run(lambda db: db.execute(
            "SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone())
        return ApiKey(*row) if row else None

    async def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]:
        sql = "SELECT * FROM api_keys {} ORDER BY created_at_ms, id"
        if account_id is None:
            rows = await self._run(lambda db: db.execute(sql.format("")).fetchall())
        else:
            rows = await self._run(lambda db: db.execute(
                sql.format("WHERE account_id = ?"), (account_id,)).fetchall())
        return [ApiKey(*row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_ms: int) -> bool:
        cursor = await self._run(lambda db: db.execute(
            "UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
            (now_ms, key_id)))
        return cursor.rowcount == 1

    async def touch_api_key(self, key_id: str, now_ms: int) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE api_keys SET last_used_ms = ? WHERE id = ?", (now_ms, key_id)))

    # -- timers -------------------------------------------------------------------------------

    async def get_timer(self, timer_id: str) -> bytes | None:
        row = await self._run(lambda db: db.execute(
            "SELECT body FROM timers WHERE id = ?", (timer_id,)).fetchone())
        return bytes(row[0]) if row else None

    async def list_timers(self, account_id: str, cursor: str | None,
                          limit: int) -> tuple[list[bytes], str | None]:
        created, after_id = _split_cursor(cursor) if cursor else (-1, "")
        rows = await self._run(lambda db: db.execute(
            "SELECT created_at_ms, id, body FROM timers WHERE account_id = ? "
            "AND (created_at_ms, id) > (?, ?) ORDER BY created_at_ms, id LIMIT ?",
            (account_id, created, after_id, limit + 1)).fetchall())
        page = rows[:limit]
        following = f"{page[-1][0]}:{page[-1][1]}" if len(rows) > limit else None
        return [bytes(row[2]) for row in page], following

    async def commit(self, commit: Commit) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT version FROM timers WHERE id = ?",
                                 (commit.timer_id,)).fetchone()
                current = row[0] if row else 0
                if current != commit.expected_version:
                    last = db.execute("SELECT commit_id FROM timer_commits WHERE timer_id = ?",
                                      (commit.timer_id,)).fetchone()
                    if last and last[0] == commit.id:
                        db.execute("ROLLBACK")
                        return  # this very commit, applied before: nothing to do
                    raise VersionConflict(current)
                _write_commit(db, commit)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(write)
        await self.publish(timer_channel(commit.timer_id), commit.message)
        if commit.deadline_ms is not None:
            await self.publish(DEADLINES_CHANNEL, str(commit.deadline_ms).encode())
        if commit.deliveries:
            await self.publish(OUTBOX_CHANNEL, str(len(commit.deliveries)).encode())

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        rows = await self._run(lambda db: db.execute(
            "SELECT timer_id, due_ms FROM deadlines WHERE due_ms <= ? ORDER BY due_ms LIMIT ?",
            (now_ms, limit)).fetchall())
        return [(row[0], row[1]) for row in rows]

    async def next_deadline(self) -> int | None:
        row = await self._run(lambda db: db.execute(
            "SELECT min(due_ms) FROM deadlines").fetchone())
        return row[0]

    # -- event log ----------------------------------------------------------------------------

    async def list_events(self, account_id: str, cursor: str | None, limit: int,
                          timer_id: str | None = None) -> tuple[list[EventRecord], str | None]:
        after = _int_cursor(cursor) if cursor else 0
        where, args = "account_id = ? AND seq > ?", [account_id, after]
        if timer_id is not None:
            where += " AND timer_id = ?"
            args.append(timer_id)
        rows = await self._run(lambda db: db.execute(
            f"SELECT seq, id, account_id, timer_id, body FROM events WHERE {where} "  # noqa: S608
            "ORDER BY seq LIMIT ?", (*args, limit + 1)).fetchall())
        page = rows[:limit]
        following = str(page[-1][0]) if len(rows) > limit else None
        return [EventRecord(r[1], r[2], r[3], bytes(r[4])) for r in page], following

    # -- rate limits --------------------------------------------------------------------------

    async def hit_rate_limit(self, account_id: str, rate: RateLimit,
                             now_ms: int) -> RateStatus:
        # In memory: this engine serves one process, and a budget is not worth an fsync per
        # request. A restart forgets the counts (documented in docs/engines.md).
        tat, day, count = self._rates.get(account_id, (0.0, 0, 0))
        status, tat, day, count = _gcra.decide(rate, tat, day, count, now_ms)
        self._rates[account_id] = (tat, day, count)
        return status

    # -- pub/sub ------------------------------------------------------------------------------

    async def publish(self, channel: str, message: bytes) -> None:
        deliver(self._receivers.get(channel, ()), message)

    async def subscribe(self, channel: str, receiver: Receiver) -> None:
        self._receivers[channel].append(receiver)

    async def unsubscribe(self, channel: str, receiver: Receiver) -> None:
        receivers = self._receivers.get(channel)
        if receivers and receiver in receivers:
            receivers.remove(receiver)
            if not receivers:
                del self._receivers[channel]


def _write_commit(db: sqlite3.Connection, commit: Commit) -> None:
    db.execute("INSERT INTO timer_commits VALUES (?, ?) ON CONFLICT (timer_id) "
               "DO UPDATE SET commit_id = excluded.commit_id", (commit.timer_id, commit.id))
    if commit.timer is None:
        db.execute("DELETE FROM timers WHERE id = ?", (commit.timer_id,))
    else:
        db.execute(
            "INSERT INTO timers (id, account_id, version, created_at_ms, body) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
            "body = excluded.body",
            (commit.timer_id, commit.account_id, commit.version, commit.created_at_ms,
             commit.timer))
    if commit.deadline_ms is None:
        db.execute("DELETE FROM deadlines WHERE timer_id = ?", (commit.timer_id,))
    else:
        db.execute("INSERT INTO deadlines VALUES (?, ?) ON CONFLICT (timer_id) "
                   "DO UPDATE SET due_ms = excluded.due_ms", (commit.timer_id, commit.deadline_ms))
    db.executemany("INSERT INTO events (id, account_id, timer_id, body) VALUES (?, ?, ?, ?)",
                   [(e.id, e.account_id, e.timer_id, e.body) for e in commit.events])
    db.executemany(
        "INSERT INTO deliveries (id, account_id, timer_id, event_id, url, body, due_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(d.id, d.account_id, d.timer_id, d.event_id, d.url, d.body, d.due_ms)
         for d in commit.deliveries])


def _row(record: Any) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in record.__slots__)


_MAX_INT = 2**63 - 1  # SQLite's INTEGER


def _split_cursor(cursor: str) -> tuple[int, str]:
    created, _, after_id = cursor.partition(":")
    if not after_id:
        raise ValueError("cursor is not one this API returned")
    return _int_cursor(created), after_id


def _int_cursor(cursor: str) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", cursor) or int(cursor) > _MAX_INT:
        raise ValueError("cursor is not one this API returned")
    return int(cursor)
