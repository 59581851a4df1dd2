"""The Redis engine: any number of processes and hosts share timers, deadlines, the event log,
the outbox and rate-limit budgets, and hear each other's commits by pub/sub.

Timers are hashes, deadlines and the outbox sorted sets scored in epoch ms, the event log a
capped stream per account (and per timer), and `lua/commit.lua` does the compare-and-set commit
in one script. Key names live in `redis_keys`. Durability is Redis's: `appendonly yes` with
`appendfsync always` loses nothing; `everysec` can lose about a second of commits on a crash.

Failure: commands fail fast (1 s socket timeout by default; `?socket_timeout=` in the URL
changes it) and raise `EngineUnavailable`, which the API turns into 503. The subscriber
reconnects with backoff, resubscribes every channel, and then calls each receiver with an empty
message: "you may have missed messages; reload".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import (
    BusyLoadingError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    WatchError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import ids
from . import outage
from . import redis_keys as keys
from ._gcra import DAY_MS
from .base import (
    DEADLINES_CHANNEL,
    OUTBOX_CHANNEL,
    RUNDOWNS,
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

_LUA = Path(__file__).parent / "lua"
_STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, BusyLoadingError,
                ReadOnlyError, OutOfMemoryError)
#: Error replies that mean "not now" (persistence failing, busy script, failover, cluster
#: down) rather than a bug: they are 503s, like an unreachable server.
_UNAVAILABLE_REPLIES = ("MISCONF", "BUSY", "LOADING", "READONLY", "OOM", "TRYAGAIN",
                        "CLUSTERDOWN", "MASTERDOWN", "NOREPLICAS")


def _live_viewers(values: Sequence[bytes], now_ms: int) -> int:
    total = 0
    for value in values:
        viewers, _, expires = value.partition(b":")
        if int(expires) > now_ms:
            total += int(viewers)
    return total


def _rate_status(reply: Sequence[int] | None) -> RateStatus | None:
    """gcra's reply in _gcra.lua as a RateStatus (None: nothing was counted)."""
    if reply is None:
        return None
    allowed, limit, remaining, reset, window, retry, used = (int(x) for x in reply)
    return RateStatus(bool(allowed), limit, remaining, reset, window, retry, used)


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Redis unreachable or refusing writes → EngineUnavailable (503), never a hang or a 500."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise EngineUnavailable(f"redis: {exc}") from exc
    except ResponseError as exc:
        if str(exc).startswith(_UNAVAILABLE_REPLIES):
            raise EngineUnavailable(f"redis: {exc}") from exc
        raise


class RedisEngine:
    def __init__(self, url: str) -> None:
        self.url = url
        options: dict[str, Any] = {}
        if "socket_timeout=" not in url:
            options["socket_timeout"] = 1.0
        if "socket_connect_timeout=" not in url:
            options["socket_connect_timeout"] = 1.0
        # One retry, only for a dropped connection (a pooled socket that outlived a Redis
        # restart): re-sending a commit is safe, the version check refuses a second run.
        # Timeouts are not retried, so a request fails within the timeout, not a multiple.
        self._client = aioredis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            retry_on_timeout=False, health_check_interval=10, **options)
        # The commit and the rate-limit arithmetic are Lua functions, put in front of each
        # script using them.
        commit_all = (_LUA / "_commit.lua").read_text()
        self._commit_script = self._client.register_script(
            commit_all + (_LUA / "commit.lua").read_text())
        gcra = (_LUA / "_gcra.lua").read_text()
        self._gcra_script = self._client.register_script(gcra + (_LUA / "gcra.lua").read_text())
        self._admit_script = self._client.register_script(
            gcra + (_LUA / "admit.lua").read_text())
        self._admit_control_script = self._client.register_script(
            gcra + (_LUA / "admit_control.lua").read_text())
        self._admit_commit_script = self._client.register_script(
            gcra + commit_all + (_LUA / "admit_commit.lua").read_text())
        # The plans' part of admit.lua's arguments, made once per plans table.
        self._plan_args: tuple[Mapping[str, RateLimit] | None, list[Any]] = (None, [0])
        self._scripts = {name: self._client.register_script((_LUA / f"{name}.lua").read_text())
                         for name in ("add_deliveries", "claim", "finish", "retry", "migrate")}
        self._receivers: dict[str, list[Receiver]] = defaultdict(list)
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        # Redis channel → future resolved when the server confirms the subscription.
        self._confirming: dict[bytes, asyncio.Future[None]] = {}
        # Redis channels confirmed on the current subscriber connection.
        self._live: set[bytes] = set()
        self._stale = False  # set by subscribe() when the subscriber connection failed it
        self._closing = False

    # -- plumbing -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Start the subscriber. If Redis is down now, the engine still opens: commands raise
        `EngineUnavailable` (readyz says so) and the subscriber keeps trying."""
        if self._listener is None:
            with contextlib.suppress(*_UNAVAILABLE, RedisError):
                await self._scripts["migrate"](keys=[keys.OUTBOX, keys.DELIVERY_SEQ],
                                               args=[keys.PREFIX])
            with contextlib.suppress(*_UNAVAILABLE, RedisError):
                await self._connect_pubsub()
            self._listener = asyncio.create_task(self._listen(), name="castimer-redis-pubsub")

    async def close(self) -> None:
        if self._listener is not None:
            # The flag ends the loop within a read timeout even if a cancellation is lost
            # inside the client library; close never waits longer than that.
            self._closing = True
            self._listener.cancel()
            await asyncio.wait({self._listener}, timeout=2.0)
            self._listener = None
        await self._drop_pubsub()
        self._receivers.clear()
        await self._client.aclose()

    async def ping(self) -> None:
        with _guard():
            await self._client.ping()

    async def _evalsha(self, script: AsyncScript, script_keys: list[str],
                       args: list[Any]) -> Any:
        """Run a registered script by its SHA, loading it again if Redis lost it: what calling
        the script object does, without its per-call pipeline check (an isinstance against a
        typing Protocol, ~3 % of a GET's CPU). For the scripts of every request."""
        try:
            return await self._client.evalsha(script.sha, len(script_keys), *script_keys, *args)
        except NoScriptError:
            script.sha = await self._client.script_load(script.script)
            return await self._client.evalsha(script.sha, len(script_keys), *script_keys, *args)

    # -- accounts and keys --------------------------------------------------------------------

    async def add_account(self, account: Account) -> None:
        with _guard():
            if not await self._client.hsetnx(keys.ACCOUNT_NAMES, account.name, account.id):
                raise ValueError(f"an account named {account.name!r} exists already")
            await self._client.hset(keys.ACCOUNTS, account.id, orjson.dumps(account))

    async def get_account(self, account_id: str) -> Account | None:
        with _guard():
            raw = await self._client.hget(keys.ACCOUNTS, account_id)
        return Account(**orjson.loads(raw)) if raw else None

    async def find_account(self, name: str) -> Account | None:
        with _guard():
            account_id = await self._client.hget(keys.ACCOUNT_NAMES, name)
        return await self.get_account(account_id.decode()) if account_id else None

    async def count_accounts(self) -> int:
        with _guard():
            return int(await self._client.hlen(keys.ACCOUNTS))

    async def list_accounts(self) -> list[Account]:
        with _guard():
            raw = await self._client.hvals(keys.ACCOUNTS)
        found = [Account(**orjson.loads(value)) for value in raw]
        return sorted(found, key=lambda a: (a.created_at_ms, a.id))

    async def set_plan(self, account_id: str, plan: str) -> Account | None:
        return await self._change_account(account_id, lambda old: dataclasses.replace(
            old, plan=plan))

    async def add_api_key(self, key: ApiKey) -> None:
        with _guard():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(keys.API_KEYS, key.key_hash, orjson.dumps(key))
                pipe.hset(keys.API_KEY_IDS, key.id, key.key_hash)
                await pipe.execute()

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        with _guard():
            raw = await self._client.hget(keys.API_KEYS, key_hash)
            if raw is None:
                return None
            key = ApiKey(**orjson.loads(raw))
            return await self._with_use(key)

    async def _with_use(self, key: ApiKey) -> ApiKey:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(keys.API_KEY_REVOKED, key.id)
            pipe.hget(keys.API_KEY_USED, key.id)
            revoked, used = await pipe.execute()
        return ApiKey(key.id, key.account_id, key.prefix, key.key_hash, key.created_at_ms,
                      int(used) if used else None, int(revoked) if revoked else None)

    async def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]:
        with _guard():
            found = [ApiKey(**orjson.loads(raw))
                     for raw in (await self._client.hgetall(keys.API_KEYS)).values()]
            found = [k for k in found if account_id is None or k.account_id == account_id]
            found.sort(key=lambda k: (k.created_at_ms, k.id))
            return [await self._with_use(k) for k in found]

    async def revoke_api_key(self, key_id: str, now_ms: int) -> bool:
        with _guard():
            if not await self._client.hexists(keys.API_KEY_IDS, key_id):
                return False
            return bool(await self._client.hsetnx(keys.API_KEY_REVOKED, key_id, now_ms))

    async def touch_api_key(self, key_id: str, now_ms: int) -> None:
        with _guard():
            await self._client.hset(keys.API_KEY_USED, key_id, now_ms)

    async def admit(self, key: ApiKey, now_ms: int, *, touch_after_ms: int,
                    plans: Mapping[str, RateLimit] | None = None,
                    timer_id: str | None = None) -> Admission:
        script_keys = [keys.API_KEY_REVOKED, keys.API_KEY_USED, keys.ACCOUNTS,
                       keys.rate(key.account_id)]
        if timer_id is not None:
            script_keys += [keys.timer(timer_id), keys.presence(timer_id)]
        with _guard():
            revoked, account, rate, timer, presence = await self._evalsha(
                self._admit_script, script_keys,
                [key.id, key.account_id, now_ms, touch_after_ms, *self._plans_as_args(plans)])
        if revoked is not None:
            return Admission(int(revoked), None, None)
        if account is None:
            return Admission(None, None, None)
        return Admission(None, Account(**orjson.loads(account)), _rate_status(rate), timer,
                         _live_viewers(presence or [], now_ms))

    async def admit_commit(self, key: ApiKey, now_ms: int, commit: Commit, *,
                           touch_after_ms: int,
                           plans: Mapping[str, RateLimit]) -> AdmittedCommit:
        check_group(commit)
        timer_id = commit.timer_id
        script_keys = [keys.API_KEY_REVOKED, keys.API_KEY_USED, keys.ACCOUNTS,
                       keys.rate(key.account_id), keys.timer(timer_id), keys.presence(timer_id)]
        args: list[Any] = [key.id, key.account_id, now_ms, touch_after_ms,
                           *self._plans_as_args(plans), *self._commit_args(commit, script_keys)]
        with _guard():
            revoked, account, rate, timer, presence, committed = await self._evalsha(
                self._admit_commit_script, script_keys, args)
        if revoked is not None:
            return AdmittedCommit(Admission(int(revoked), None, None), False)
        if account is None:
            return AdmittedCommit(Admission(None, None, None), False)
        admission = Admission(None, Account(**orjson.loads(account)), _rate_status(rate), timer,
                              _live_viewers(presence or [], now_ms))
        return AdmittedCommit(admission, bool(committed and committed[0]))

    async def admit_control(self, token: str, now_ms: int, *, plans: Mapping[str, RateLimit],
                            timer_id: str | None = None,
                            rundown_id: str | None = None) -> Admission:
        if rundown_id is not None:
            script_keys = [keys.ACCOUNTS, keys.rundown(rundown_id)]
        else:
            assert timer_id is not None
            script_keys = [keys.ACCOUNTS, keys.timer(timer_id), keys.presence(timer_id)]
        # Only the token's digest goes to Redis, where a MONITOR or the SLOWLOG could show it.
        digest = hashlib.sha1(token.encode(), usedforsecurity=False).hexdigest()
        with _guard():
            account, rate, timer, presence = await self._evalsha(
                self._admit_control_script, script_keys,
                [digest, now_ms, keys.RATE_PREFIX, *self._plans_as_args(plans)])
        if account is None:
            return Admission(None, None, None)
        return Admission(None, Account(**orjson.loads(account)), _rate_status(rate), timer,
                         _live_viewers(presence or [], now_ms))

    def _plans_as_args(self, plans: Mapping[str, RateLimit] | None) -> list[Any]:
        if plans is None:
            return [0]
        if self._plan_args[0] is not plans:
            args: list[Any] = [len(plans)]
            for name, rate in plans.items():
                args += [name, rate.per_minute, "" if rate.per_day is None else rate.per_day]
            self._plan_args = (plans, args)
        return self._plan_args[1]

    # -- timers -------------------------------------------------------------------------------

    async def get_timer(self, timer_id: str) -> bytes | None:
        with _guard():
            raw: bytes | None = await self._client.hget(keys.timer(timer_id), "body")
        return raw

    async def list_timers(self, account_id: str, cursor: str | None,
                          limit: int) -> tuple[list[bytes], str | None]:
        return await self._list("tmr_", keys.account_timers(account_id), keys.timer, cursor,
                                limit)

    async def _list(self, prefix: str, index: str, key_of: Callable[[str], str],
                    cursor: str | None, limit: int) -> tuple[list[bytes], str | None]:
        """A page of an account's timers or rundowns: their index members (creation order)
        after `cursor`, then their bodies in one pipeline."""
        if cursor is not None and not re.fullmatch(rf"[0-9]{{15}}:{prefix}[0-9A-Za-z]+",
                                                   cursor):
            raise ValueError("cursor is not one this API returned")
        with _guard():
            members = await self._client.zrangebylex(
                index, f"({cursor}" if cursor else "-", "+", start=0, num=limit + 1)
            page = [m.decode() for m in members[:limit]]
            async with self._client.pipeline(transaction=False) as pipe:
                for member in page:
                    pipe.hget(key_of(member.split(":", 1)[1]), "body")
                bodies = await pipe.execute()
        following = page[-1] if len(members) > limit else None
        return [b for b in bodies if b is not None], following

    async def commit(self, commit: Commit) -> None:
        check_group(commit)
        script_keys: list[str] = []
        args = self._commit_args(commit, script_keys)
        with _guard():
            ok, version, *failed = await self._evalsha(self._commit_script, script_keys, args)
        if not ok:
            raise VersionConflict(int(version), failed[0].decode() if failed else None)

    @staticmethod
    def _commit_args(commit: Commit, script_keys: list[str]) -> list[Any]:
        """_commit.lua's arguments for `commit` and its linked commits; their keys are added
        to `script_keys`."""
        args: list[Any] = [keys.EVENT_LOG_CAP, keys.channel(DEADLINES_CHANNEL),
                           keys.channel(OUTBOX_CHANNEL), keys.timer_rundowns(""),
                           1 + len(commit.linked)]
        for one in (commit, *commit.linked):
            _add_commit(one, script_keys, args)
        return args

    async def get_rundown(self, rundown_id: str) -> bytes | None:
        with _guard():
            raw: bytes | None = await self._client.hget(keys.rundown(rundown_id), "body")
        return raw

    async def list_rundowns(self, account_id: str, cursor: str | None,
                            limit: int) -> tuple[list[bytes], str | None]:
        return await self._list("rnd_", keys.account_rundowns(account_id), keys.rundown,
                                cursor, limit)

    async def rundowns_of(self, timer_id: str) -> list[str]:
        with _guard():
            found = await self._client.smembers(keys.timer_rundowns(timer_id))
        return sorted(m.decode() for m in found)

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        with _guard():
            found = await self._client.zrangebyscore(keys.DEADLINES, "-inf", now_ms, start=0,
                                                     num=limit, withscores=True)
        return [(member.decode(), int(score)) for member, score in found]

    async def next_deadline(self) -> int | None:
        with _guard():
            found = await self._client.zrange(keys.DEADLINES, 0, 0, withscores=True)
        return int(found[0][1]) if found else None

    # -- event log ----------------------------------------------------------------------------

    async def list_events(self, account_id: str, cursor: str | None, limit: int,
                          timer_id: str | None = None) -> tuple[list[EventRecord], str | None]:
        if cursor is not None and (not _STREAM_ID.fullmatch(cursor) or any(
                int(part) >= 2**64 - 1 for part in cursor.split("-"))):
            raise ValueError("cursor is not one this API returned")
        stream = keys.account_events(account_id) if timer_id is None else \
            keys.timer_events(account_id, timer_id)
        with _guard():
            entries = await self._client.xrange(stream, f"({cursor}" if cursor else "-", "+",
                                                count=limit + 1)
        page = [(entry_id.decode(), fields) for entry_id, fields in entries[:limit]]
        records = [EventRecord(f[b"id"].decode(), account_id, f[b"timer"].decode(), f[b"body"])
                   for _, f in page]
        return records, (page[-1][0] if len(entries) > limit else None)

    # -- webhook deliveries -------------------------------------------------------------------

    async def add_deliveries(self, deliveries: Sequence[DeliveryRecord], now_ms: int) -> None:
        script_keys = [keys.OUTBOX, keys.DELIVERY_SEQ]
        args: list[Any] = [keys.channel(OUTBOX_CHANNEL)]
        for d in deliveries:
            script_keys += [keys.timer_deliveries(d.account_id, d.timer_id),
                            keys.timer_queue(d.timer_id), keys.delivery(d.id)]
            args += [d.id, d.account_id, d.timer_id, d.event_id, d.url, d.body, d.due_ms]
        with _guard():
            await self._scripts["add_deliveries"](keys=script_keys, args=args)

    async def claim_deliveries(self, now_ms: int, limit: int,
                               lease_ms: int) -> list[ClaimedDelivery]:
        token = ids.new_id("clm_")
        with _guard():
            taken = await self._scripts["claim"](
                keys=[keys.OUTBOX, keys.ACCOUNTS], args=[now_ms, limit, lease_ms, token,
                                                         keys.PREFIX])
        claimed = []
        for account, *flat in taken:
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            claimed.append(ClaimedDelivery(_delivery(fields), Account(**orjson.loads(account)),
                                           token))
        return claimed

    async def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        args: list[Any] = [keys.PREFIX, keys.channel(OUTBOX_CHANNEL)]
        for o in outcomes:
            args += [o.delivery_id, o.claim, orjson.dumps(o.attempt), o.status,
                     "" if o.due_ms is None else o.due_ms, "1" if o.gone else "0"]
        with _guard():
            await self._scripts["finish"](keys=[keys.OUTBOX], args=args)

    async def next_delivery_ms(self) -> int | None:
        with _guard():
            found = await self._client.zrange(keys.OUTBOX, 0, 0, withscores=True)
        return int(found[0][1]) if found else None

    async def outbox_depth(self, now_ms: int) -> tuple[int, int]:
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zcard(keys.OUTBOX)
                pipe.zcount(keys.OUTBOX, "-inf", now_ms)
                pending, due = await pipe.execute()
        return int(pending), int(due)

    async def get_delivery(self, delivery_id: str) -> tuple[Delivery, list[Attempt]] | None:
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.delivery(delivery_id))
                pipe.lrange(keys.delivery_attempts(delivery_id), 0, -1)
                fields, attempts = await pipe.execute()
        if not fields:
            return None
        return _delivery(fields), [Attempt(**orjson.loads(a)) for a in attempts]

    async def list_deliveries(self, account_id: str, timer_id: str, cursor: str | None,
                              limit: int) -> tuple[list[Delivery], str | None]:
        if cursor is not None and not re.fullmatch(r"[0-9]{1,18}", cursor):
            raise ValueError("cursor is not one this API returned")
        with _guard():
            found = await self._client.zrevrangebyscore(
                keys.timer_deliveries(account_id, timer_id), f"({cursor}" if cursor else "+inf",
                "-inf", start=0, num=limit + 1, withscores=True)
            page = found[:limit]
            async with self._client.pipeline(transaction=False) as pipe:
                for member, _ in page:
                    pipe.hgetall(keys.delivery(member.decode()))
                rows = await pipe.execute()
        following = str(int(page[-1][1])) if len(found) > limit else None
        return [_delivery(row) for row in rows if row], following

    async def retry_delivery(self, delivery_id: str, now_ms: int) -> Delivery | None:
        with _guard():
            timer_id = await self._client.hget(keys.delivery(delivery_id), "timer_id")
            if timer_id is None:
                return None
            started = await self._scripts["retry"](
                keys=[keys.OUTBOX, keys.delivery(delivery_id), keys.timer_queue(timer_id.decode())],
                args=[now_ms, keys.channel(OUTBOX_CHANNEL)])
        if started < 0:
            return None
        found = await self.get_delivery(delivery_id)
        return found[0] if found else None

    # -- account secrets ----------------------------------------------------------------------

    async def rotate_webhook_secret(self, account_id: str, secret: str, now_ms: int,
                                    overlap_ms: int) -> Account | None:
        return await self._change_account(account_id, lambda old: Account(
            old.id, old.name, old.plan, old.created_at_ms, secret, old.webhook_secret,
            now_ms + overlap_ms))

    async def _change_account(self, account_id: str,
                              change: Callable[[Account], Account]) -> Account | None:
        """Read, change and write one account, again if another process wrote meanwhile."""
        with _guard():
            async with self._client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(keys.ACCOUNTS)
                        raw = await pipe.hget(keys.ACCOUNTS, account_id)
                        if raw is None:
                            return None
                        account = change(Account(**orjson.loads(raw)))
                        pipe.multi()
                        pipe.hset(keys.ACCOUNTS, account_id, orjson.dumps(account))
                        await pipe.execute()
                        return account
                    except WatchError:
                        continue

    # -- rate limits --------------------------------------------------------------------------

    async def hit_rate_limit(self, account_id: str, rate: RateLimit,
                             now_ms: int) -> RateStatus:
        with _guard():
            answer = await self._gcra_script(
                keys=[keys.rate(account_id)],
                args=[rate.per_minute, "" if rate.per_day is None else rate.per_day, now_ms])
        allowed, limit, remaining, reset, window, retry, used = (int(x) for x in answer)
        return RateStatus(bool(allowed), limit, remaining, reset, window, retry, used)

    # -- presence -----------------------------------------------------------------------------

    async def set_presence(self, timer_id: str, process_id: str, viewers: int,
                           expires_ms: int) -> None:
        key = keys.presence(timer_id)
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                if viewers > 0:
                    pipe.hset(key, process_id, f"{viewers}:{expires_ms}")
                    # The whole hash goes when no process has refreshed it for that long: the
                    # key's expiry is the latest of its entries' (NX sets it, GT extends it).
                    pipe.pexpireat(key, expires_ms, nx=True)
                    pipe.pexpireat(key, expires_ms, gt=True)
                else:
                    pipe.hdel(key, process_id)
                await pipe.execute()

    async def count_viewers(self, timer_ids: Sequence[str], now_ms: int) -> list[int]:
        if not timer_ids:
            return []
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                for timer_id in timer_ids:
                    pipe.hvals(keys.presence(timer_id))
                found = await pipe.execute()
        return [_live_viewers(values, now_ms) for values in found]

    async def usage_today(self, account_id: str, now_ms: int) -> int:
        with _guard():
            day, count = await self._client.hmget(keys.rate(account_id), ["day", "count"])
        return int(count) if day is not None and int(day) == now_ms // DAY_MS else 0

    # -- pub/sub ------------------------------------------------------------------------------

    async def publish(self, channel: str, message: bytes) -> None:
        with _guard():
            await self._client.publish(keys.channel(channel), message)

    async def subscribe(self, channel: str, receiver: Receiver) -> None:
        self._receivers[channel].append(receiver)
        name = keys.channel(channel).encode()
        confirmed = self._confirming.get(name)
        if confirmed is None:
            if self._pubsub is None or name in self._live:
                return  # live already, or the listener subscribes it when it reconnects
            confirmed = self._confirming[name] = asyncio.get_running_loop().create_future()
            try:
                await self._pubsub.subscribe(name)
            except _UNAVAILABLE as exc:
                self._confirming.pop(name, None)
                self._reconnect()
                raise EngineUnavailable(f"redis: cannot subscribe: {exc}") from exc
        try:
            # Return only once Redis has confirmed: a publish after this reaches `receiver`.
            await asyncio.wait_for(asyncio.shield(confirmed), timeout=2.0)
        except TimeoutError:
            self._confirming.pop(name, None)
            self._reconnect()
            raise EngineUnavailable("redis: subscription not confirmed") from None

    def _reconnect(self) -> None:
        """Ask the listener for a new subscriber connection (it alone closes the old one);
        every receiver then reloads, since messages may have been missed meanwhile."""
        self._stale = True

    async def unsubscribe(self, channel: str, receiver: Receiver) -> None:
        receivers = self._receivers.get(channel)
        if not receivers or receiver not in receivers:
            return
        receivers.remove(receiver)
        if not receivers:
            del self._receivers[channel]
            self._live.discard(keys.channel(channel).encode())
            if self._pubsub is not None:
                with contextlib.suppress(*_UNAVAILABLE):
                    await self._pubsub.unsubscribe(keys.channel(channel))

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._live = set()
        if pubsub is not None:
            # Bounded: a read cancelled inside the client library can leave the connection's
            # lock held, and a close that waits on it for ever would hang a shutdown (seen
            # once in CI, in a test's teardown); the socket is dropped with the object anyway.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                await asyncio.wait_for(pubsub.aclose(), timeout=2.0)

    async def _connect_pubsub(self) -> None:
        """A new subscriber connection with every channel that has receivers, confirmed. A
        channel that gains receivers while this runs is caught by the loop's second look."""
        pubsub = self._client.pubsub()
        live: set[bytes] = set()
        try:
            wanted = {keys.IDLE_CHANNEL.encode()}
            while wanted - live:
                await pubsub.subscribe(*(wanted - live))
                for _ in range(len(wanted - live)):
                    reply = await pubsub.get_message(timeout=1.0)
                    if reply is None:
                        raise RedisTimeoutError("no subscription confirmation")
                    if reply["type"] == "subscribe":
                        live.add(reply["channel"])
                wanted = {keys.IDLE_CHANNEL.encode(),
                          *(keys.channel(c).encode() for c in self._receivers)}
        except BaseException:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            raise
        self._pubsub, self._live = pubsub, live
        for name in [n for n in self._confirming if n in live]:
            confirmed = self._confirming.pop(name)
            if not confirmed.done():
                confirmed.set_result(None)

    async def _listen(self) -> None:
        """The one subscriber connection of this process: read, dispatch, and on failure
        reconnect with backoff, resubscribe, and tell every receiver it may have missed some."""
        backoff, missed = 0.05, False
        prefix = len(keys.PREFIX)
        while not self._closing:
            try:
                if self._stale:
                    self._stale, missed = False, True
                    await self._drop_pubsub()
                if self._pubsub is None:
                    await self._connect_pubsub()
                    if missed:
                        outage.of(self).answered("pub/sub")
                        for receivers in list(self._receivers.values()):
                            deliver(receivers, b"")
                    backoff, missed = 0.05, False
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "message":
                    channel = message["channel"].decode()[prefix:]
                    deliver(self._receivers.get(channel, ()), message["data"])
                elif message["type"] == "subscribe":
                    self._live.add(message["channel"])
                    confirmed = self._confirming.pop(message["channel"], None)
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(None)
                elif message["type"] == "unsubscribe":
                    self._live.discard(message["channel"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke, the process must keep hearing commits
                outage.of(self).failed(f"redis pub/sub: {exc}", "pub/sub")
                missed = True
                await self._drop_pubsub()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


_DELIVERY_INTS = ("due_ms", "created_at_ms", "attempts", "run_attempts")


def _add_commit(commit: Commit, script_keys: list[str], args: list[Any]) -> None:
    """One commit's keys and arguments, as commit.lua reads a block."""
    rundown = commit.collection == RUNDOWNS
    object_id, account_id = commit.timer_id, commit.account_id
    script_keys += [keys.rundown(object_id) if rundown else keys.timer(object_id),
                    keys.DEADLINES,
                    (keys.account_rundowns if rundown else keys.account_timers)(account_id),
                    keys.account_events(account_id), keys.timer_events(account_id, object_id),
                    keys.OUTBOX, keys.last_commit(object_id), keys.DELIVERY_SEQ,
                    keys.timer_deliveries(account_id, object_id), keys.timer_queue(object_id),
                    keys.rundown_timers(object_id),
                    *(keys.delivery(d.id) for d in commit.deliveries)]
    args += [commit.expected_version, commit.version, commit.timer or b"",
             _index_member(commit.created_at_ms, object_id), object_id,
             "" if commit.deadline_ms is None else commit.deadline_ms, commit.message,
             keys.channel(channel_of(commit.collection, object_id)), commit.id]
    args += [len(commit.members), *commit.members] if rundown else [-1]
    args.append(len(commit.events))
    for event in commit.events:
        args += [event.id, event.body]
    args.append(len(commit.deliveries))
    for d in commit.deliveries:
        args += [d.id, d.account_id, d.event_id, d.url, d.body, d.due_ms]


def _delivery(fields: dict[bytes, bytes]) -> Delivery:
    text = {k.decode(): v for k, v in fields.items()}
    # Deliveries written before the dispatcher existed lack the newer fields.
    text.setdefault("created_at_ms", text["due_ms"])
    text.setdefault("run_attempts", b"0")
    return Delivery(**{name: text[name].decode() for name in (
        "id", "account_id", "timer_id", "event_id", "url", "status")},
        body=text["body"], **{name: int(text[name]) for name in _DELIVERY_INTS})


def _index_member(created_at_ms: int, timer_id: str) -> str:
    return f"{created_at_ms:015d}:{timer_id}"
