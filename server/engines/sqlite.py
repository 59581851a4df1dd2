"""The embedded engine: stdlib sqlite3 in WAL mode with synchronous=FULL, on one dedicated
thread, with pub/sub inside the process.

Use it for one server process: zero set-up, and every commit is on disk before it is
acknowledged. Commits that arrive while one is being written are written next, together: one
transaction and one `fsync` for all of them, each in its own savepoint, so each is still
version-checked and all or nothing on its own (group commit). Outgrow it when you need more
than one process (`--workers`, several hosts): pub/sub does not cross processes here, and
rate-limit budgets live in this process's memory (the day's counts are written to the file
within a second and on close, so a restart keeps them). Several processes may still open the same
file (the CLI creating keys while a server runs, a `castimer worker` beside `castimer serve`):
SQLite's locks and the version check keep every commit exactly-once, and schedulers poll
instead of being woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from .. import ids
from . import _gcra
from .base import (
    DEADLINES_CHANNEL,
    OUTBOX_CHANNEL,
    RUNDOWNS,
    SUCCEEDED,
    TIMERS,
    Account,
    Admission,
    AdmittedCommit,
    ApiKey,
    Attempt,
    ClaimedDelivery,
    Commit,
    Delivery,
    DeliveryRecord,
    EngineUnavailable,
    EventRecord,
    Outcome,
    RateLimit,
    RateStatus,
    Receiver,
    VersionConflict,
    channel_of,
    check_group,
    deliver,
)

_T = TypeVar("_T")
_R = TypeVar("_R")
log = logging.getLogger("castimer.engines")
#: Primary result codes of a file locked by another connection.
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

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
CREATE TABLE IF NOT EXISTS rundowns (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, version INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS rundowns_by_account ON rundowns (account_id, created_at_ms, id);
CREATE TABLE IF NOT EXISTS rundown_timers (
    rundown_id TEXT NOT NULL, timer_id TEXT NOT NULL, PRIMARY KEY (rundown_id, timer_id));
CREATE INDEX IF NOT EXISTS rundowns_by_timer ON rundown_timers (timer_id);
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
    attempts INTEGER NOT NULL DEFAULT 0, lease_until_ms INTEGER,
    created_at_ms INTEGER NOT NULL DEFAULT 0, run_attempts INTEGER NOT NULL DEFAULT 0,
    claim TEXT, is_head INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, due_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_timer ON deliveries (timer_id);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    delivery_id TEXT NOT NULL, number INTEGER NOT NULL, at_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL, status_code INTEGER, response TEXT NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON delivery_attempts (delivery_id, number);
CREATE TABLE IF NOT EXISTS daily_usage (
    account_id TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (account_id, day));
"""
#: Seconds between writes of the day's request counts: what a crash (not a clean stop) loses.
USAGE_FLUSH_S = 1.0

#: Columns the deliveries table gained with the dispatcher; stores made before it get them.
_DELIVERY_COLUMNS = {"created_at_ms": "INTEGER NOT NULL DEFAULT 0",
                     "run_attempts": "INTEGER NOT NULL DEFAULT 0", "claim": "TEXT",
                     "is_head": "INTEGER NOT NULL DEFAULT 0"}
#: Each timer's pending deliveries are a queue in the order written; only its head (is_head)
#: may be claimed, so a timer's deliveries go out one at a time and in order, and a timer with
#: a long queue costs a claim one row, not its whole queue.
_INDEXES = """
CREATE INDEX IF NOT EXISTS deliveries_heads ON deliveries (due_ms)
    WHERE is_head = 1 AND status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (timer_id)
    WHERE status = 'pending';
"""
_DELIVERY = ("id, account_id, timer_id, event_id, url, body, status, due_ms, created_at_ms, "
             "attempts, run_attempts")


def _path(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"a sqlite engine URL looks like sqlite:///castimer.db (relative) or "
                         f"sqlite:////abs/path.db, got {url!r}")
    return url[len(prefix):]


class SQLiteEngine:
    one_trip_writes = False  # see base.Store

    def __init__(self, url: str) -> None:
        self.url = url
        self._path = _path(url)
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="castimer-sqlite")
        self._receivers: dict[str, list[Receiver]] = defaultdict(list)
        self._rates: dict[str, tuple[float, int, int]] = {}
        self._presence: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)

        # Accounts whose day count changed since it was last written, and that write.
        self._unsaved: set[str] = set()
        self._saving: asyncio.Task[None] | None = None
        self._saved_at = 0.0
        # Commits waiting for the next group, and the task writing groups while there are any.
        self._waiting: list[tuple[Commit, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

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

    async def _read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """A point read on the event loop's own thread, through a read-only connection. In WAL
        mode a reader never waits for the writer, and a primary-key lookup takes ~10 µs where a
        hop to the writer's thread and back costs several times that: the hot reads of every
        API request (key, account, timer) take this path (docs/performance.md)."""
        if self._reader is None:
            raise EngineUnavailable("the sqlite engine is not open")
        try:
            return work(self._reader)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _BUSY:
                raise EngineUnavailable(f"sqlite: {exc}") from exc
        # The file is locked (WAL recovery, another process holding it exclusively): wait for
        # it on the writer's thread, not here, where waiting would stall every socket.
        return await self._run(work)

    async def open(self) -> None:
        def connect() -> None:
            if self._db is not None:
                return
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.executescript(_SCHEMA)
            _add_missing_columns(db)
            db.executescript(_INDEXES)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._thread, connect)
        if self._reader is None:
            reader = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            reader.row_factory = sqlite3.Row
            reader.execute("PRAGMA query_only = 1")
            # No busy wait on the loop: a locked file sends the read to the writer's thread.
            reader.execute("PRAGMA busy_timeout = 0")
            self._reader = reader
        await self._load_usage()

    async def close(self) -> None:
        if self._writing is not None:
            await asyncio.wait({self._writing})
        if self._saving is not None:
            self._saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saving
        if self._db is not None:
            await self._save_usage()

        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await asyncio.get_running_loop().run_in_executor(self._thread, disconnect)
        self._receivers.clear()

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    # -- accounts and keys --------------------------------------------------------------------

    async def add_account(self, account: Account) -> None:
        def insert(db: sqlite3.Connection) -> None:
            try:
                _insert(db, "accounts", account)
            except sqlite3.IntegrityError:
                raise ValueError(f"an account named {account.name!r} exists already") from None

        await self._run(insert)

    async def get_account(self, account_id: str) -> Account | None:
        return await self._one_account("id", account_id)

    async def find_account(self, name: str) -> Account | None:
        return await self._one_account("name", name)

    async def _one_account(self, column: str, value: str) -> Account | None:
        row = await self._read(lambda db: db.execute(
            f"SELECT * FROM accounts WHERE {column} = ?", (value,)).fetchone())  # noqa: S608
        return _record(Account, row) if row else None

    async def count_accounts(self) -> int:
        row = await self._run(lambda db: db.execute("SELECT count(*) FROM accounts").fetchone())
        return int(row[0])

    async def list_accounts(self) -> list[Account]:
        rows = await self._run(lambda db: db.execute(
            "SELECT * FROM accounts ORDER BY created_at_ms, id").fetchall())
        return [_record(Account, row) for row in rows]

    async def set_plan(self, account_id: str, plan: str) -> Account | None:
        def update(db: sqlite3.Connection) -> Account | None:
            db.execute("UPDATE accounts SET plan = ? WHERE id = ?", (plan, account_id))
            row = db.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
            return _record(Account, row) if row else None

        return await self._run(update)

    async def add_api_key(self, key: ApiKey) -> None:
        await self._run(lambda db: _insert(db, "api_keys", key))

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._read(lambda db: db.execute(
            "SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone())
        return _record(ApiKey, row) if row else None

    async def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]:
        sql = "SELECT * FROM api_keys {} ORDER BY created_at_ms, id"
        if account_id is None:
            rows = await self._run(lambda db: db.execute(sql.format("")).fetchall())
        else:
            rows = await self._run(lambda db: db.execute(
                sql.format("WHERE account_id = ?"), (account_id,)).fetchall())
        return [_record(ApiKey, row) for row in rows]

    async def revoke_api_key(self, key_id: str, now_ms: int) -> bool:
        cursor = await self._run(lambda db: db.execute(
            "UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
            (now_ms, key_id)))
        return cursor.rowcount == 1

    async def touch_api_key(self, key_id: str, now_ms: int) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE api_keys SET last_used_ms = ? WHERE id = ?", (now_ms, key_id)))

    async def admit(self, key: ApiKey, now_ms: int, *, touch_after_ms: int,
                    plans: Mapping[str, RateLimit] | None = None,
                    timer_id: str | None = None) -> Admission:
        # One point read for the key's state, its account and the timer.
        row = await self._read(lambda db: db.execute(
            "SELECT k.revoked_at_ms AS key_revoked_at_ms, k.last_used_ms AS key_used_ms, a.*, "
            "(SELECT body FROM timers WHERE id = ?) AS timer_body FROM api_keys k "
            "LEFT JOIN accounts a ON a.id = k.account_id WHERE k.id = ?",
            (timer_id, key.id)).fetchone())
        if row is not None and row["key_revoked_at_ms"] is not None:
            return Admission(row["key_revoked_at_ms"], None, None)
        if row is None or row["id"] is None:
            return Admission(None, None, None)
        account = _record(Account, row)
        used = row["key_used_ms"]
        if used is None or now_ms - used >= touch_after_ms:
            await self.touch_api_key(key.id, now_ms)
        status = None
        if plans is not None:
            status = await self.hit_rate_limit(account.id, plans[account.plan], now_ms)
        body = row["timer_body"]
        viewers = (await self.count_viewers([timer_id], now_ms))[0] if timer_id else 0
        return Admission(None, account, status, bytes(body) if body is not None else None,
                         viewers)

    async def admit_commit(self, key: ApiKey, now_ms: int, commit: Commit, *,
                           touch_after_ms: int,
                           plans: Mapping[str, RateLimit]) -> AdmittedCommit:
        # The two steps in turn: in one process, where this engine's writes all go through one
        # writer, there is no round trip to save.
        admission = await self.admit(key, now_ms, touch_after_ms=touch_after_ms, plans=plans,
                                     timer_id=commit.timer_id)
        if admission.account is None or admission.rate is None or not admission.rate.allowed:
            return AdmittedCommit(admission, False)
        try:
            await self.commit(commit)
        except VersionConflict:
            return AdmittedCommit(dataclasses.replace(
                admission, timer=await self.get_timer(commit.timer_id)), False)
        return AdmittedCommit(dataclasses.replace(admission, timer=commit.timer), True)

    async def admit_control(self, token: str, now_ms: int, *, plans: Mapping[str, RateLimit],
                            timer_id: str | None = None,
                            rundown_id: str | None = None) -> Admission:
        table = "rundowns" if rundown_id is not None else "timers"
        row = await self._read(lambda db: db.execute(
            f"SELECT t.body AS timer_body, a.* FROM {table} t "  # noqa: S608
            "JOIN accounts a ON a.id = t.account_id WHERE t.id = ?",
            (rundown_id or timer_id,)).fetchone())
        if row is None:
            return Admission(None, None, None)
        body = bytes(row["timer_body"])
        stored = orjson.loads(body).get("control_token") or ""
        if not (stored and hmac.compare_digest(stored.encode(), token.encode())):
            return Admission(None, None, None)
        account = _record(Account, row)
        status = await self.hit_rate_limit(account.id, plans[account.plan], now_ms)
        viewers = (await self.count_viewers([timer_id], now_ms))[0] if timer_id else 0
        return Admission(None, account, status, body, viewers)

    # -- timers -------------------------------------------------------------------------------

    async def get_timer(self, timer_id: str) -> bytes | None:
        row = await self._read(lambda db: db.execute(
            "SELECT body FROM timers WHERE id = ?", (timer_id,)).fetchone())
        return bytes(row[0]) if row else None

    async def list_timers(self, account_id: str, cursor: str | None,
                          limit: int) -> tuple[list[bytes], str | None]:
        return await self._list(TIMERS, account_id, cursor, limit)

    async def get_rundown(self, rundown_id: str) -> bytes | None:
        row = await self._read(lambda db: db.execute(
            "SELECT body FROM rundowns WHERE id = ?", (rundown_id,)).fetchone())
        return bytes(row[0]) if row else None

    async def list_rundowns(self, account_id: str, cursor: str | None,
                            limit: int) -> tuple[list[bytes], str | None]:
        return await self._list(RUNDOWNS, account_id, cursor, limit)

    async def rundowns_of(self, timer_id: str) -> list[str]:
        rows = await self._read(lambda db: db.execute(
            "SELECT rundown_id FROM rundown_timers WHERE timer_id = ?", (timer_id,)).fetchall())
        return [row[0] for row in rows]

    async def _list(self, table: str, account_id: str, cursor: str | None,
                    limit: int) -> tuple[list[bytes], str | None]:
        created, after_id = _split_cursor(cursor) if cursor else (-1, "")
        rows = await self._run(lambda db: db.execute(
            f"SELECT created_at_ms, id, body FROM {table} WHERE account_id = ? "  # noqa: S608
            "AND (created_at_ms, id) > (?, ?) ORDER BY created_at_ms, id LIMIT ?",
            (account_id, created, after_id, limit + 1)).fetchall())
        page = rows[:limit]
        following = f"{page[-1][0]}:{page[-1][1]}" if len(rows) > limit else None
        return [bytes(row[2]) for row in page], following

    async def commit(self, commit: Commit) -> None:
        check_group(commit)
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((commit, written))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_groups(), name="castimer-commits")
        await written
        for one in (commit, *commit.linked):
            await self.publish(channel_of(one.collection, one.timer_id), one.message)
            if one.deadline_ms is not None:
                await self.publish(DEADLINES_CHANNEL, str(one.deadline_ms).encode())
        deliveries = sum(len(one.deliveries) for one in (commit, *commit.linked))
        if deliveries:
            await self.publish(OUTBOX_CHANNEL, str(deliveries).encode())

    async def _write_groups(self) -> None:
        """Write the waiting commits as one group, then those that came meanwhile, until none
        wait. Each commit's future is settled only after its group's COMMIT has returned, that
        is once it is on disk (synchronous=FULL)."""
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    outcomes = await self._run(
                        lambda db, group=group: _write_group(db, [c for c, _ in group]))
                except Exception as exc:  # none of the group was written
                    for _, written in group:
                        if not written.done():
                            written.set_exception(exc)
                    continue
                except BaseException:
                    for _, written in group:
                        written.cancel()
                    raise
                for (_, written), outcome in zip(group, outcomes, strict=True):
                    if written.done():
                        continue
                    if outcome is None:
                        written.set_result(None)
                    else:
                        written.set_exception(outcome)
        finally:
            self._writing = None

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

    # -- webhook deliveries -------------------------------------------------------------------

    async def add_deliveries(self, deliveries: Sequence[DeliveryRecord], now_ms: int) -> None:
        await self._run(lambda db: _insert_deliveries(db, deliveries))
        if deliveries:
            await self.publish(OUTBOX_CHANNEL, str(len(deliveries)).encode())

    async def claim_deliveries(self, now_ms: int, limit: int,
                               lease_ms: int) -> list[ClaimedDelivery]:
        def claim(db: sqlite3.Connection) -> list[ClaimedDelivery]:
            token = ids.new_id("clm_")
            with _transaction(db):
                # A head in flight is due again only when its lease runs out (due_ms moves
                # there), so due heads are exactly the timers free to send their next one.
                taken = [_delivery(row) for row in db.execute(
                    f"SELECT {_DELIVERY} FROM deliveries WHERE is_head = 1 "  # noqa: S608
                    "AND status = 'pending' AND due_ms <= ? ORDER BY due_ms, rowid LIMIT ?",
                    (now_ms, limit))]
                db.executemany(
                    "UPDATE deliveries SET due_ms = ?, lease_until_ms = ?, claim = ? "
                    "WHERE id = ?",
                    [(now_ms + lease_ms, now_ms + lease_ms, token, d.id) for d in taken])
                accounts = {a: _record(Account, db.execute(
                    "SELECT * FROM accounts WHERE id = ?", (a,)).fetchone())
                            for a in {d.account_id for d in taken}}
            return [ClaimedDelivery(d, accounts[d.account_id], token) for d in taken]

        return await self._run(claim)

    async def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        def finish(db: sqlite3.Connection) -> None:
            with _transaction(db):
                for outcome in outcomes:
                    _finish(db, outcome)

        await self._run(finish)
        if outcomes:
            await self.publish(OUTBOX_CHANNEL, b"0")

    async def next_delivery_ms(self) -> int | None:
        row = await self._run(lambda db: db.execute(
            "SELECT min(due_ms) FROM deliveries WHERE status = 'pending'").fetchone())
        return row[0]

    async def outbox_depth(self, now_ms: int) -> tuple[int, int]:
        row = await self._run(lambda db: db.execute(
            "SELECT count(*), coalesce(sum(due_ms <= ?), 0) FROM deliveries "
            "WHERE is_head = 1 AND status = 'pending'", (now_ms,)).fetchone())
        return int(row[0]), int(row[1])

    async def get_delivery(self, delivery_id: str) -> tuple[Delivery, list[Attempt]] | None:
        def read(db: sqlite3.Connection) -> tuple[Delivery, list[Attempt]] | None:
            row = db.execute(f"SELECT {_DELIVERY} FROM deliveries WHERE id = ?",  # noqa: S608
                             (delivery_id,)).fetchone()
            if row is None:
                return None
            attempts = db.execute(
                "SELECT number, at_ms, duration_ms, status_code, response, error "
                "FROM delivery_attempts WHERE delivery_id = ? ORDER BY number, rowid",
                (delivery_id,)).fetchall()
            return _delivery(row), [_record(Attempt, a) for a in attempts]

        return await self._run(read)

    async def list_deliveries(self, account_id: str, timer_id: str, cursor: str | None,
                              limit: int) -> tuple[list[Delivery], str | None]:
        before = _int_cursor(cursor) if cursor else _MAX_INT
        rows = await self._run(lambda db: db.execute(
            f"SELECT rowid, {_DELIVERY} FROM deliveries WHERE account_id = ? "  # noqa: S608
            "AND timer_id = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?",
            (account_id, timer_id, before, limit + 1)).fetchall())
        page = rows[:limit]
        following = str(page[-1][0]) if len(rows) > limit else None
        return [_delivery(row) for row in page], following

    async def retry_delivery(self, delivery_id: str, now_ms: int) -> Delivery | None:
        def retry(db: sqlite3.Connection) -> tuple[Delivery | None, bool]:
            with _transaction(db):
                changed = db.execute(
                    "UPDATE deliveries SET status = 'pending', due_ms = ?, run_attempts = 0, "
                    "lease_until_ms = NULL, claim = NULL WHERE id = ? AND status != 'pending'",
                    (now_ms, delivery_id)).rowcount == 1
                if changed:
                    # It joins its timer's queue in the order it was written: the head if the
                    # queue is empty, else after the one in flight.
                    timer_id = db.execute("SELECT timer_id FROM deliveries WHERE id = ?",
                                          (delivery_id,)).fetchone()[0]
                    _promote_head(db, timer_id)
            row = db.execute(f"SELECT {_DELIVERY} FROM deliveries WHERE id = ?",  # noqa: S608
                             (delivery_id,)).fetchone()
            return (_delivery(row) if row else None), changed

        delivery, changed = await self._run(retry)
        if changed:
            await self.publish(OUTBOX_CHANNEL, b"1")
        return delivery

    # -- account secrets ----------------------------------------------------------------------

    async def rotate_webhook_secret(self, account_id: str, secret: str, now_ms: int,
                                    overlap_ms: int) -> Account | None:
        def rotate(db: sqlite3.Connection) -> Account | None:
            db.execute(
                "UPDATE accounts SET previous_webhook_secret = webhook_secret, "
                "previous_secret_expires_ms = ?, webhook_secret = ? WHERE id = ?",
                (now_ms + overlap_ms, secret, account_id))
            row = db.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
            return _record(Account, row) if row else None

        return await self._run(rotate)

    # -- rate limits --------------------------------------------------------------------------

    async def hit_rate_limit(self, account_id: str, rate: RateLimit,
                             now_ms: int) -> RateStatus:
        # In memory: this engine serves one process, and a budget is not worth an fsync per
        # request. The day's count is written at most a second later (and on close); the
        # minute's budget is not kept over a restart (docs/engines.md).
        before = self._rates.get(account_id, (0.0, 0, 0))
        status, tat, day, count = _gcra.decide(rate, *before, now_ms)
        self._rates[account_id] = (tat, day, count)
        if (day, count) != before[1:]:
            self._unsaved.add(account_id)
            if self._saving is None:
                self._saving = asyncio.get_running_loop().create_task(self._save_soon())
        return status

    # -- presence -----------------------------------------------------------------------------

    async def set_presence(self, timer_id: str, process_id: str, viewers: int,
                           expires_ms: int) -> None:
        # In memory: this engine serves one process, so only its own viewers are counted.
        held = self._presence[timer_id]
        if viewers > 0:
            held[process_id] = (viewers, expires_ms)
        else:
            held.pop(process_id, None)
            if not held:
                del self._presence[timer_id]

    async def count_viewers(self, timer_ids: Sequence[str], now_ms: int) -> list[int]:
        return [sum(n for n, expires in self._presence.get(t, {}).values() if expires > now_ms)
                for t in timer_ids]

    async def usage_today(self, account_id: str, now_ms: int) -> int:
        today = now_ms // _gcra.DAY_MS
        if account_id in self._rates:
            _, day, count = self._rates[account_id]
            return count if day == today else 0
        row = await self._read(lambda db: db.execute(
            "SELECT count FROM daily_usage WHERE account_id = ? AND day = ?",
            (account_id, today)).fetchone())
        return int(row[0]) if row else 0

    async def _load_usage(self) -> None:
        """The latest day's count of every account, as the last process wrote it. The minute
        window starts afresh: its GCRA state is not written (a restart forgives a burst, not
        the day's cap)."""
        rows = await self._run(lambda db: db.execute(
            "SELECT account_id, max(day), count FROM daily_usage GROUP BY account_id").fetchall())
        for account_id, day, count in rows:
            if account_id not in self._rates:
                self._rates[account_id] = (0.0, int(day), int(count))

    async def _save_soon(self) -> None:
        """Write the changed counts a second after the last write, until none are left."""
        loop = asyncio.get_running_loop()
        try:
            while self._unsaved:
                wait = USAGE_FLUSH_S - (loop.time() - self._saved_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._save_usage()
        finally:
            self._saving = None

    async def _save_usage(self) -> None:
        """Write the changed day counts in one transaction, and forget the older days."""
        unsaved, self._unsaved = self._unsaved, set()
        rows = [(a, *self._rates[a][1:]) for a in unsaved]

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.executemany("INSERT INTO daily_usage VALUES (?, ?, ?) ON CONFLICT "
                               "(account_id, day) DO UPDATE SET count = excluded.count", rows)
                db.executemany("DELETE FROM daily_usage WHERE account_id = ? AND day < ?",
                               [(a, day) for a, day, _ in rows])

        try:
            if rows:
                await self._run(write)
        except EngineUnavailable as exc:
            self._unsaved |= unsaved  # kept for the next write
            log.warning("the day's request counts could not be written: %s", exc)
        except BaseException:
            self._unsaved |= unsaved  # counts are absolute: writing them twice is harmless
            raise
        finally:
            self._saved_at = asyncio.get_running_loop().time()

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


def _write_group(db: sqlite3.Connection, commits: Sequence[Commit]) -> list[Exception | None]:
    """Commits in one transaction, each in its own savepoint: one that fails (a version
    conflict, a constraint) is rolled back alone and gets its error, and the others are
    written. If SQLite gives up the whole transaction (disk full, I/O error), this raises and
    none of them is written."""
    outcomes: list[Exception | None] = []
    with _transaction(db):
        for commit in commits:
            db.execute("SAVEPOINT one_commit")
            try:
                for one in (commit, *commit.linked):
                    _check_and_write(db, one)
            except (VersionConflict, sqlite3.Error) as exc:
                if not db.in_transaction:
                    raise
                db.execute("ROLLBACK TO one_commit")
                outcomes.append(EngineUnavailable(f"sqlite: {exc}")
                                if isinstance(exc, sqlite3.OperationalError) else exc)
            else:
                outcomes.append(None)
            db.execute("RELEASE one_commit")
    return outcomes


def _check_and_write(db: sqlite3.Connection, commit: Commit) -> None:
    table = _TABLES[commit.collection]
    row = db.execute(f"SELECT version FROM {table} WHERE id = ?",  # noqa: S608
                     (commit.timer_id,)).fetchone()
    current = row[0] if row else 0
    if current != commit.expected_version:
        last = db.execute("SELECT commit_id FROM timer_commits WHERE timer_id = ?",
                          (commit.timer_id,)).fetchone()
        if last and last[0] == commit.id:
            return  # this very commit, applied before: nothing to do
        raise VersionConflict(current, commit.timer_id)
    _write_commit(db, commit)


#: The table each collection's bodies live in (the names are constants, never input).
_TABLES = {TIMERS: "timers", RUNDOWNS: "rundowns"}


def _write_commit(db: sqlite3.Connection, commit: Commit) -> None:
    table = _TABLES[commit.collection]
    db.execute("INSERT INTO timer_commits VALUES (?, ?) ON CONFLICT (timer_id) "
               "DO UPDATE SET commit_id = excluded.commit_id", (commit.timer_id, commit.id))
    if commit.timer is None:
        db.execute(f"DELETE FROM {table} WHERE id = ?", (commit.timer_id,))  # noqa: S608
    else:
        db.execute(
            f"INSERT INTO {table} (id, account_id, version, created_at_ms, body) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
            "body = excluded.body",
            (commit.timer_id, commit.account_id, commit.version, commit.created_at_ms,
             commit.timer))
    if commit.collection == RUNDOWNS:
        db.execute("DELETE FROM rundown_timers WHERE rundown_id = ?", (commit.timer_id,))
        if commit.timer is not None:
            db.executemany("INSERT INTO rundown_timers VALUES (?, ?)",
                           [(commit.timer_id, member) for member in commit.members])
    if commit.deadline_ms is None:
        db.execute("DELETE FROM deadlines WHERE timer_id = ?", (commit.timer_id,))
    else:
        db.execute("INSERT INTO deadlines VALUES (?, ?) ON CONFLICT (timer_id) "
                   "DO UPDATE SET due_ms = excluded.due_ms", (commit.timer_id, commit.deadline_ms))
    db.executemany("INSERT INTO events (id, account_id, timer_id, body) VALUES (?, ?, ?, ?)",
                   [(e.id, e.account_id, e.timer_id, e.body) for e in commit.events])
    _insert_deliveries(db, commit.deliveries)


def _insert_deliveries(db: sqlite3.Connection, deliveries: Sequence[DeliveryRecord]) -> None:
    for d in deliveries:
        db.execute(
            "INSERT INTO deliveries (id, account_id, timer_id, event_id, url, body, due_ms, "
            "created_at_ms, is_head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOT EXISTS ("
            "SELECT 1 FROM deliveries WHERE timer_id = ? AND status = 'pending'))",
            (d.id, d.account_id, d.timer_id, d.event_id, d.url, d.body, d.due_ms, d.due_ms,
             d.timer_id))


def _promote_head(db: sqlite3.Connection, timer_id: str) -> None:
    """Make the timer's earliest pending delivery its queue's head (the only one claimable),
    unless one of its deliveries is in flight: that one reports first."""
    db.execute("UPDATE deliveries SET is_head = coalesce(rowid = (SELECT min(rowid) "
               "FROM deliveries WHERE timer_id = ?1 AND status = 'pending'), 0) "
               "WHERE timer_id = ?1 AND (status = 'pending' OR is_head = 1) AND NOT EXISTS ("
               "SELECT 1 FROM deliveries WHERE timer_id = ?1 AND status = 'pending' "
               "AND claim IS NOT NULL)", (timer_id,))


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a store made before the dispatcher up to date, all or nothing."""
    have = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
    if set(_DELIVERY_COLUMNS) <= have:
        return
    with _transaction(db):
        have = {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}
        for name, kind in _DELIVERY_COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {kind}")
        db.execute("UPDATE deliveries SET created_at_ms = due_ms WHERE created_at_ms = 0")
        db.execute("UPDATE deliveries SET is_head = 1 WHERE rowid IN (SELECT min(rowid) "
                   "FROM deliveries WHERE status = 'pending' GROUP BY timer_id)")


def _delivery(row: sqlite3.Row) -> Delivery:
    return _record(Delivery, row)


def _finish(db: sqlite3.Connection, outcome: Outcome) -> None:
    a = outcome.attempt
    db.execute("INSERT INTO delivery_attempts (delivery_id, number, at_ms, duration_ms, "
               "status_code, response, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (outcome.delivery_id, a.number, a.at_ms, a.duration_ms, a.status_code,
                a.response, a.error))
    db.execute("UPDATE deliveries SET attempts = attempts + 1 WHERE id = ?",
               (outcome.delivery_id,))
    row = db.execute("SELECT timer_id, url, claim FROM deliveries WHERE id = ?",
                     (outcome.delivery_id,)).fetchone()
    if row is None:
        return
    timer_id, url, claim = row
    if outcome.status == SUCCEEDED:
        # The receiver has it: final, even if a lease that ran out was taken over meanwhile
        # (then the lease stays the new holder's until it reports).
        db.execute("UPDATE deliveries SET status = 'succeeded', run_attempts = run_attempts + 1"
                   " WHERE id = ?", (outcome.delivery_id,))
        if claim == outcome.claim:
            db.execute("UPDATE deliveries SET lease_until_ms = NULL, claim = NULL WHERE id = ?",
                       (outcome.delivery_id,))
    else:
        db.execute("UPDATE deliveries SET status = ?, due_ms = coalesce(?, due_ms), "
                   "run_attempts = run_attempts + 1, lease_until_ms = NULL, claim = NULL "
                   "WHERE id = ? AND claim = ? AND status = 'pending'",
                   (outcome.status, outcome.due_ms, outcome.delivery_id, outcome.claim))
    if outcome.gone:
        db.execute("UPDATE deliveries SET status = 'cancelled' WHERE status = 'pending' AND "
                   "timer_id = ? AND url = ? AND (claim IS NULL OR id = ?)",
                   (timer_id, url, outcome.delivery_id))
    _promote_head(db, timer_id)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE (the write lock up front, so two writers never deadlock), then COMMIT,
    or ROLLBACK on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled it back itself (disk full, I/O error)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _record(kind: type[_R], row: sqlite3.Row) -> _R:
    """A record from a row, field by column name: a store whose columns stand in another order
    (one migrated by ALTER TABLE, or a field moved in its dataclass) still maps each value to
    its own field."""
    return kind(**{f.name: row[f.name] for f in dataclasses.fields(kind)})


def _insert(db: sqlite3.Connection, table: str, record: Any) -> None:
    """Insert a record's fields into the columns of the same names."""
    names = [f.name for f in dataclasses.fields(record)]
    db.execute(f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 (our own names)
               f"VALUES ({', '.join(':' + n for n in names)})",
               {n: getattr(record, n) for n in names})


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
