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
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
    WatchError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import ids
from ..wake import stop_if_cancelled
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
from .sharded_pubsub import ShardedSubscriber

_LUA = Path(__file__).parent / "lua"
#: URL schemes of a Redis Cluster: seeds `host:port,host:port…`, as `redis://` otherwise.
CLUSTER_SCHEMES = ("redis-cluster", "rediss-cluster")
_STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")
# RedisClusterException is not a RedisError: redis-py raises it when no seed of a cluster
# answers, or a slot has no master (SlotNotCoveredError).
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, BusyLoadingError,
                ReadOnlyError, OutOfMemoryError, ClusterDownError, MasterDownError,
                TryAgainError, RedisClusterException)
#: Error replies that mean "not now" (persistence failing, busy script, failover, cluster
#: down) rather than a bug: they are 503s, like an unreachable server.
_UNAVAILABLE_REPLIES = ("MISCONF", "BUSY", "LOADING", "READONLY", "OOM", "TRYAGAIN",
                        "CLUSTERDOWN", "MASTERDOWN", "NOREPLICAS")


def _timeouts(query: dict[str, str]) -> dict[str, float]:
    """Commands fail fast unless the URL says otherwise (`?socket_timeout=`…)."""
    return {name: float(query.get(name, 1.0))
            for name in ("socket_timeout", "socket_connect_timeout")}


def _client(url: str) -> aioredis.Redis:
    options: dict[str, Any] = {}
    if "socket_timeout=" not in url:
        options["socket_timeout"] = 1.0
    if "socket_connect_timeout=" not in url:
        options["socket_connect_timeout"] = 1.0
    # One retry, only for a dropped connection (a pooled socket that outlived a Redis
    # restart): re-sending a commit is safe, the version check refuses a second run.
    # Timeouts are not retried, so a request fails within the timeout, not a multiple.
    return aioredis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        retry_on_timeout=False, health_check_interval=10, **options)


def _cluster_client(url: str) -> RedisCluster:
    """redis-py's cluster client for `redis-cluster://[user:password@]host:port,host:port…
    [?socket_timeout=…&socket_connect_timeout=…]` (`rediss-cluster://` for TLS): it learns the
    slots from any seed that answers and follows them through failovers and resharding."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    seeds = []
    for seed in hosts.split(","):
        host, _, port = seed.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Redis Cluster URL lists host:port seeds, comma-separated; got "
                             f"{seed!r}")
        seeds.append(ClusterNode(host, int(port)))
    query = dict(parse_qsl(parts.query))
    # One retry of a command that met a dropped connection, after the client has refreshed
    # its map of the slots (a moved slot it follows by itself); timeouts are not retried, and
    # beyond that the request fails (503) rather than waiting out a failover.
    return RedisCluster(
        startup_nodes=seeds, username=unquote(username) or None,
        password=unquote(password) or query.get("password"),
        ssl=parts.scheme.lower() == "rediss-cluster",
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **_timeouts(query))


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
    one_trip_writes = True

    def __init__(self, url: str, shards: int | None = None) -> None:
        self.url = url
        if shards is None:
            from .. import settings

            shards = settings.REDIS_SHARDS
        if not 1 <= shards <= keys.MAX_SHARDS:
            raise ValueError(f"CASTIMER_REDIS_SHARDS must be 1 to {keys.MAX_SHARDS}, "
                             f"got {shards}")
        #: The shard count this engine records in a new store (a store keeps its own).
        self.wanted_shards = shards
        self._keys: keys.Keyspace | None = None
        self._next_shard = 0  # where the next look over every shard starts (`_turn`)
        #: On a Redis Cluster (`redis-cluster://host:port,host:port…`): pub/sub is sharded.
        self.cluster = url.split(":", 1)[0].lower() in CLUSTER_SCHEMES
        self._client: Any = _cluster_client(url) if self.cluster else _client(url)
        # The commit and the rate-limit arithmetic are Lua functions, put in front of each
        # script using them.
        commit_all = self._lua("_commit")
        self._commit_script = self._client.register_script(commit_all + self._lua("commit"))
        gcra = self._lua("_gcra")
        self._gcra_script = self._client.register_script(gcra + self._lua("gcra"))
        way_in = gcra + self._lua("_way_in")
        self._admit_script = self._client.register_script(way_in + self._lua("admit"))
        self._admit_control_script = self._client.register_script(
            gcra + self._lua("admit_control"))
        self._admit_commit_script = self._client.register_script(
            way_in + commit_all + self._lua("admit_commit"))
        # The plans' part of admit.lua's arguments, made once per plans table.
        self._plan_args: tuple[Mapping[str, RateLimit] | None, list[Any]] = (None, [0])
        self._scripts = {name: self._client.register_script(self._lua(name))
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

    def _lua(self, name: str) -> str:
        """A script's text. On a cluster its publishes are sharded (SPUBLISH: the channel
        carries the hash tag of the keys the script declares, as a sharded publish from a
        script must), for the sharded subscriptions of every process to hear them."""
        text = (_LUA / f"{name}.lua").read_text()
        return text.replace("redis.call('PUBLISH', ", "redis.call('SPUBLISH', ") \
            if self.cluster else text

    async def open(self) -> None:
        """Start the subscriber. If Redis is down now, the engine still opens: commands raise
        `EngineUnavailable` (readyz says so) and the subscriber keeps trying."""
        if self._listener is None:
            with contextlib.suppress(EngineUnavailable, *_UNAVAILABLE, RedisError):
                k = await self._keyspace()
                for shard, prefix in enumerate(k.prefixes()):
                    await self._scripts["migrate"](
                        keys=[k.outbox(shard), k.delivery_seq(shard)], args=[prefix])
            with contextlib.suppress(EngineUnavailable, *_UNAVAILABLE, RedisError):
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

    async def _keyspace(self) -> keys.Keyspace:
        """The store's key names, once its shard count is known: recorded by the first
        process to use the store (this engine's `wanted_shards`, or 1 for a store written
        before shards were recorded, whose keys all carry shard 0's tag)."""
        if self._keys is None:
            with _guard():
                recorded = await self._client.get(keys.SHARDS)
                if recorded is None:
                    old = await self._client.exists(*keys.EXISTING)
                    await self._client.set(keys.SHARDS, 1 if old else self.wanted_shards,
                                           nx=True)
                    recorded = await self._client.get(keys.SHARDS)
            self._keys = keys.Keyspace(int(recorded))
        return self._keys

    @property
    def shards(self) -> int | None:
        """The store's shard count, once read (None before)."""
        return None if self._keys is None else self._keys.shards

    @property
    def keyspace(self) -> keys.Keyspace:
        """The store's key names (once `open` has read the shard count)."""
        if self._keys is None:
            raise EngineUnavailable("redis: the store's shard count is not known yet")
        return self._keys

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
        k = await self._keyspace()
        with _guard():
            if not await self._client.hsetnx(keys.ACCOUNT_NAMES, account.name, account.id):
                raise ValueError(f"an account named {account.name!r} exists already")
            await self._client.hset(k.account_key(account.id), account.id,
                                    orjson.dumps(account))

    async def get_account(self, account_id: str) -> Account | None:
        k = await self._keyspace()
        with _guard():
            raw = await self._client.hget(k.account_key(account_id), account_id)
        return Account(**orjson.loads(raw)) if raw else None

    async def find_account(self, name: str) -> Account | None:
        with _guard():
            account_id = await self._client.hget(keys.ACCOUNT_NAMES, name)
        return await self.get_account(account_id.decode()) if account_id else None

    async def count_accounts(self) -> int:
        k = await self._keyspace()
        return sum(await self._each_shard(lambda pipe, s: pipe.hlen(k.accounts(s))))

    async def list_accounts(self) -> list[Account]:
        k = await self._keyspace()
        found = [Account(**orjson.loads(value))
                 for values in await self._each_shard(lambda pipe, s: pipe.hvals(k.accounts(s)))
                 for value in values]
        return sorted(found, key=lambda a: (a.created_at_ms, a.id))

    async def _each_shard(self, command: Callable[[Any, int], Any]) -> list[Any]:
        """`command(pipe, shard)` for every shard, in one pipeline; the replies in shard
        order."""
        k = await self._keyspace()
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                for shard in range(k.shards):
                    command(pipe, shard)
                return list(await pipe.execute())

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
        k = await self._keyspace()
        shard = k.shard_of(key.account_id)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(k.api_key_revoked(shard), key.id)
            pipe.hget(k.api_key_used(shard), key.id)
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
        k = await self._keyspace()
        with _guard():
            digest = await self._client.hget(keys.API_KEY_IDS, key_id)
            raw = None if digest is None else await self._client.hget(keys.API_KEYS, digest)
            if raw is None:
                return False
            shard = k.shard_of(orjson.loads(raw)["account_id"])
            return bool(await self._client.hsetnx(k.api_key_revoked(shard), key_id, now_ms))

    async def touch_api_key(self, key_id: str, now_ms: int) -> None:
        k = await self._keyspace()
        with _guard():
            digest = await self._client.hget(keys.API_KEY_IDS, key_id)
            raw = None if digest is None else await self._client.hget(keys.API_KEYS, digest)
            if raw is not None:
                shard = k.shard_of(orjson.loads(raw)["account_id"])
                await self._client.hset(k.api_key_used(shard), key_id, now_ms)

    async def admit(self, key: ApiKey, now_ms: int, *, touch_after_ms: int,
                    plans: Mapping[str, RateLimit] | None = None,
                    timer_id: str | None = None) -> Admission:
        k = await self._keyspace()
        script_keys = self._way_in_keys(k, key)
        # A timer of another shard is not the account's (what it owns is in its shard): it is
        # not read, and its keys, in another slot, stay out of the script.
        if timer_id is not None and k.shard_of(timer_id) == k.shard_of(key.account_id):
            script_keys += [k.timer(timer_id), k.presence(timer_id)]
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
        k = await self._keyspace()
        timer_id = commit.timer_id
        if k.shard_of(timer_id) != k.shard_of(key.account_id):  # not the account's: no trip
            return AdmittedCommit(await self.admit(  # to save, and no slot shared
                key, now_ms, touch_after_ms=touch_after_ms, plans=plans), False)
        script_keys = [*self._way_in_keys(k, key), k.timer(timer_id), k.presence(timer_id)]
        args: list[Any] = [key.id, key.account_id, now_ms, touch_after_ms,
                           *self._plans_as_args(plans),
                           *self._commit_args(k, commit, script_keys)]
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

    @staticmethod
    def _way_in_keys(k: keys.Keyspace, key: ApiKey) -> list[str]:
        """admit.lua's first four keys: all in the shard of the key's account."""
        shard = k.shard_of(key.account_id)
        return [k.api_key_revoked(shard), k.api_key_used(shard), k.accounts(shard),
                k.rate(key.account_id)]

    async def admit_control(self, token: str, now_ms: int, *, plans: Mapping[str, RateLimit],
                            timer_id: str | None = None,
                            rundown_id: str | None = None) -> Admission:
        k = await self._keyspace()
        owned = rundown_id or timer_id
        assert owned is not None
        # The owner is found in the thing's body; it lives in the thing's shard.
        accounts = k.accounts(k.shard_of(owned))
        if rundown_id is not None:
            script_keys = [accounts, k.rundown(rundown_id)]
        else:
            assert timer_id is not None
            script_keys = [accounts, k.timer(timer_id), k.presence(timer_id)]
        # Only the token's digest goes to Redis, where a MONITOR or the SLOWLOG could show it.
        digest = hashlib.sha1(token.encode(), usedforsecurity=False).hexdigest()
        with _guard():
            account, rate, timer, presence = await self._evalsha(
                self._admit_control_script, script_keys,
                [digest, now_ms, k.rate_prefix(owned), *self._plans_as_args(plans)])
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
        k = await self._keyspace()
        with _guard():
            raw: bytes | None = await self._client.hget(k.timer(timer_id), "body")
        return raw

    async def list_timers(self, account_id: str, cursor: str | None,
                          limit: int) -> tuple[list[bytes], str | None]:
        k = await self._keyspace()
        return await self._list("tmr_", k.account_timers(account_id), k.timer, cursor, limit)

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
        k = await self._keyspace()
        script_keys: list[str] = []
        args = self._commit_args(k, commit, script_keys)
        with _guard():
            ok, version, *failed = await self._evalsha(self._commit_script, script_keys, args)
        if not ok:
            raise VersionConflict(int(version), failed[0].decode() if failed else None)

    @staticmethod
    def _commit_args(k: keys.Keyspace, commit: Commit, script_keys: list[str]) -> list[Any]:
        """_commit.lua's arguments for `commit` and its linked commits; their keys are added
        to `script_keys`. The wake-ups go to the first object's shard's channels."""
        shard = k.shard_of(commit.timer_id)
        args: list[Any] = [keys.EVENT_LOG_CAP, k.channel_in(shard, DEADLINES_CHANNEL),
                           k.channel_in(shard, OUTBOX_CHANNEL),
                           k.timer_rundowns_prefix(commit.timer_id), 1 + len(commit.linked)]
        for one in (commit, *commit.linked):
            _add_commit(k, one, script_keys, args)
        return args

    async def get_rundown(self, rundown_id: str) -> bytes | None:
        k = await self._keyspace()
        with _guard():
            raw: bytes | None = await self._client.hget(k.rundown(rundown_id), "body")
        return raw

    async def list_rundowns(self, account_id: str, cursor: str | None,
                            limit: int) -> tuple[list[bytes], str | None]:
        k = await self._keyspace()
        return await self._list("rnd_", k.account_rundowns(account_id), k.rundown, cursor,
                                limit)

    async def rundowns_of(self, timer_id: str) -> list[str]:
        k = await self._keyspace()
        with _guard():
            found = await self._client.smembers(k.timer_rundowns(timer_id))
        return sorted(m.decode() for m in found)

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        k = await self._keyspace()
        per_shard = await self._each_shard(lambda pipe, s: pipe.zrangebyscore(
            k.deadlines(s), "-inf", now_ms, start=0, num=limit, withscores=True))
        return _fairly(per_shard, limit, self._turn(k))

    def _turn(self, k: keys.Keyspace) -> int:
        """The shard to start from this time: each call one further, so that when more is due
        than one call takes, no shard is always last."""
        self._next_shard = (self._next_shard + 1) % k.shards
        return self._next_shard

    async def next_deadline(self) -> int | None:
        k = await self._keyspace()
        firsts = await self._each_shard(lambda pipe, s: pipe.zrange(
            k.deadlines(s), 0, 0, withscores=True))
        return min((int(found[0][1]) for found in firsts if found), default=None)

    # -- event log ----------------------------------------------------------------------------

    async def list_events(self, account_id: str, cursor: str | None, limit: int,
                          timer_id: str | None = None) -> tuple[list[EventRecord], str | None]:
        if cursor is not None and (not _STREAM_ID.fullmatch(cursor) or any(
                int(part) >= 2**64 - 1 for part in cursor.split("-"))):
            raise ValueError("cursor is not one this API returned")
        k = await self._keyspace()
        stream = k.account_events(account_id) if timer_id is None else \
            k.timer_events(account_id, timer_id)
        with _guard():
            entries = await self._client.xrange(stream, f"({cursor}" if cursor else "-", "+",
                                                count=limit + 1)
        page = [(entry_id.decode(), fields) for entry_id, fields in entries[:limit]]
        records = [EventRecord(f[b"id"].decode(), account_id, f[b"timer"].decode(), f[b"body"])
                   for _, f in page]
        return records, (page[-1][0] if len(entries) > limit else None)

    # -- webhook deliveries -------------------------------------------------------------------

    async def add_deliveries(self, deliveries: Sequence[DeliveryRecord], now_ms: int) -> None:
        k = await self._keyspace()
        by_shard: dict[int, list[DeliveryRecord]] = defaultdict(list)
        for d in deliveries:  # a delivery lives in its timer's shard (its id says which)
            by_shard[k.shard_of(d.timer_id)].append(d)
        for shard, group in by_shard.items():
            script_keys = [k.outbox(shard), k.delivery_seq(shard)]
            args: list[Any] = [k.channel_in(shard, OUTBOX_CHANNEL)]
            for d in group:
                script_keys += [k.timer_deliveries(d.account_id, d.timer_id),
                                k.timer_queue(d.timer_id), k.delivery(d.id)]
                args += [d.id, d.account_id, d.timer_id, d.event_id, d.url, d.body, d.due_ms]
            with _guard():
                await self._scripts["add_deliveries"](keys=script_keys, args=args)

    async def claim_deliveries(self, now_ms: int, limit: int,
                               lease_ms: int) -> list[ClaimedDelivery]:
        k = await self._keyspace()
        token = ids.new_id("clm_")
        # One look at every shard's outbox for what is due, then claims from those shards
        # only, starting at a different shard each time, so that a shard with more due than
        # one claim takes cannot keep the others waiting.
        due = await self._each_shard(lambda pipe, s: pipe.zcount(k.outbox(s), "-inf", now_ms))
        start = self._turn(k)
        busy = [(start + step) % k.shards for step in range(k.shards)
                if due[(start + step) % k.shards]]
        claimed: list[ClaimedDelivery] = []
        # Each shard with something due first gets its share of `limit`; what shares left
        # unused goes, in a second round, to the shards that had more.
        share = -(-limit // len(busy)) if busy else 0
        more: list[int] = []
        for round_of, shards in ((1, busy), (2, more)):
            for shard in shards:
                wanted = limit - len(claimed) if round_of == 2 else min(share,
                                                                        limit - len(claimed))
                if wanted <= 0:
                    break
                taken = await self._claim_in(k, shard, now_ms, wanted, lease_ms, token)
                claimed += taken
                if round_of == 1 and len(taken) == wanted and due[shard] > wanted:
                    more.append(shard)
        return claimed

    async def _claim_in(self, k: keys.Keyspace, shard: int, now_ms: int, limit: int,
                        lease_ms: int, token: str) -> list[ClaimedDelivery]:
        with _guard():
            taken = await self._scripts["claim"](
                keys=[k.outbox(shard), k.accounts(shard)],
                args=[now_ms, limit, lease_ms, token, k.prefixes()[shard]])
        claimed = []
        for account, *flat in taken:
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            delivery = _delivery(fields)
            # The owner is in the shard's accounts, unless the timer id was made by hand.
            owner = Account(**orjson.loads(account)) if account else \
                await self.get_account(delivery.account_id)
            if owner is not None:  # gone: nothing to sign with; its lease runs out unused
                claimed.append(ClaimedDelivery(delivery, owner, token))
        return claimed

    async def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        k = await self._keyspace()
        by_shard: dict[int, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_shard[k.shard_of(o.delivery_id)].append(o)
        for shard, group in by_shard.items():
            args: list[Any] = [k.prefixes()[shard], k.channel_in(shard, OUTBOX_CHANNEL)]
            for o in group:
                args += [o.delivery_id, o.claim, orjson.dumps(o.attempt), o.status,
                         "" if o.due_ms is None else o.due_ms, "1" if o.gone else "0"]
            with _guard():
                await self._scripts["finish"](keys=[k.outbox(shard)], args=args)

    async def next_delivery_ms(self) -> int | None:
        k = await self._keyspace()
        firsts = await self._each_shard(lambda pipe, s: pipe.zrange(
            k.outbox(s), 0, 0, withscores=True))
        return min((int(found[0][1]) for found in firsts if found), default=None)

    async def outbox_depth(self, now_ms: int) -> tuple[int, int]:
        k = await self._keyspace()

        def depth(pipe: Any, shard: int) -> None:
            pipe.zcard(k.outbox(shard))
            pipe.zcount(k.outbox(shard), "-inf", now_ms)

        counts = await self._each_shard(depth)
        return sum(int(c) for c in counts[::2]), sum(int(c) for c in counts[1::2])

    async def get_delivery(self, delivery_id: str) -> tuple[Delivery, list[Attempt]] | None:
        k = await self._keyspace()
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(k.delivery(delivery_id))
                pipe.lrange(k.delivery_attempts(delivery_id), 0, -1)
                fields, attempts = await pipe.execute()
        if not fields:
            return None
        return _delivery(fields), [Attempt(**orjson.loads(a)) for a in attempts]

    async def list_deliveries(self, account_id: str, timer_id: str, cursor: str | None,
                              limit: int) -> tuple[list[Delivery], str | None]:
        if cursor is not None and not re.fullmatch(r"[0-9]{1,18}", cursor):
            raise ValueError("cursor is not one this API returned")
        k = await self._keyspace()
        with _guard():
            found = await self._client.zrevrangebyscore(
                k.timer_deliveries(account_id, timer_id), f"({cursor}" if cursor else "+inf",
                "-inf", start=0, num=limit + 1, withscores=True)
            page = found[:limit]
            async with self._client.pipeline(transaction=False) as pipe:
                for member, _ in page:
                    pipe.hgetall(k.delivery(member.decode()))
                rows = await pipe.execute()
        following = str(int(page[-1][1])) if len(found) > limit else None
        return [_delivery(row) for row in rows if row], following

    async def retry_delivery(self, delivery_id: str, now_ms: int) -> Delivery | None:
        k = await self._keyspace()
        shard = k.shard_of(delivery_id)
        with _guard():
            timer_id = await self._client.hget(k.delivery(delivery_id), "timer_id")
            if timer_id is None:
                return None
            started = await self._scripts["retry"](
                keys=[k.outbox(shard), k.delivery(delivery_id),
                      k.timer_queue(timer_id.decode())],
                args=[now_ms, k.channel_in(shard, OUTBOX_CHANNEL)])
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
        accounts = (await self._keyspace()).account_key(account_id)
        with _guard():
            async with self._client.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(accounts)
                        raw = await pipe.hget(accounts, account_id)
                        if raw is None:
                            return None
                        account = change(Account(**orjson.loads(raw)))
                        pipe.multi()
                        pipe.hset(accounts, account_id, orjson.dumps(account))
                        await pipe.execute()
                        return account
                    except WatchError:
                        continue

    # -- rate limits --------------------------------------------------------------------------

    async def hit_rate_limit(self, account_id: str, rate: RateLimit,
                             now_ms: int) -> RateStatus:
        k = await self._keyspace()
        with _guard():
            answer = await self._gcra_script(
                keys=[k.rate(account_id)],
                args=[rate.per_minute, "" if rate.per_day is None else rate.per_day, now_ms])
        allowed, limit, remaining, reset, window, retry, used = (int(x) for x in answer)
        return RateStatus(bool(allowed), limit, remaining, reset, window, retry, used)

    # -- presence -----------------------------------------------------------------------------

    async def set_presence(self, timer_id: str, process_id: str, viewers: int,
                           expires_ms: int) -> None:
        key = (await self._keyspace()).presence(timer_id)
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
        k = await self._keyspace()
        with _guard():
            async with self._client.pipeline(transaction=False) as pipe:
                for timer_id in timer_ids:
                    pipe.hvals(k.presence(timer_id))
                found = await pipe.execute()
        return [_live_viewers(values, now_ms) for values in found]

    async def usage_today(self, account_id: str, now_ms: int) -> int:
        k = await self._keyspace()
        with _guard():
            day, count = await self._client.hmget(k.rate(account_id), ["day", "count"])
        return int(count) if day is not None and int(day) == now_ms // DAY_MS else 0

    # -- pub/sub ------------------------------------------------------------------------------

    @staticmethod
    def _redis_channels(k: keys.Keyspace, channel: str) -> list[bytes]:
        """The Redis channels behind an engine channel: a timer's or rundown's is in its
        shard; the wake-ups (deadlines, outbox) have one per shard, each published by the
        commits of that shard; anything else is shard 0's."""
        object_id = channel.partition(":")[2]
        if object_id:
            return [k.channel_of(object_id, channel).encode()]
        if channel in (DEADLINES_CHANNEL, OUTBOX_CHANNEL):
            return [k.channel_in(s, channel).encode() for s in range(k.shards)]
        return [k.channel_in(0, channel).encode()]

    async def publish(self, channel: str, message: bytes) -> None:
        k = await self._keyspace()
        name = self._redis_channels(k, channel)[0]
        with _guard():
            if self.cluster:
                await self._client.spublish(name, message)
            else:
                await self._client.publish(name, message)

    async def subscribe(self, channel: str, receiver: Receiver) -> None:
        self._receivers[channel].append(receiver)
        if self._pubsub is None or self._keys is None:
            return  # the listener subscribes it when it connects
        names = self._redis_channels(self._keys, channel)
        waiting = []
        for name in names:
            confirmed = self._confirming.get(name)
            if confirmed is None:
                if name in self._live:
                    continue
                confirmed = self._confirming[name] = asyncio.get_running_loop().create_future()
                try:
                    await self._subscribe(self._pubsub, name)
                except _UNAVAILABLE as exc:
                    self._confirming.pop(name, None)
                    self._forget(channel, receiver)
                    self._reconnect()
                    raise EngineUnavailable(f"redis: cannot subscribe: {exc}") from exc
            waiting.append((name, confirmed))
        if not waiting:
            return
        try:
            # Return only once Redis has confirmed: a publish after this reaches `receiver`.
            # (asyncio.timeout, not wait_for: on 3.11 wait_for can drop a cancellation.)
            async with asyncio.timeout(2.0):
                await asyncio.gather(*(asyncio.shield(c) for _, c in waiting))
        except TimeoutError:
            for name, _ in waiting:
                self._confirming.pop(name, None)
            self._forget(channel, receiver)
            self._reconnect()
            raise EngineUnavailable("redis: subscription not confirmed") from None

    def _forget(self, channel: str, receiver: Receiver) -> None:
        """A subscription that failed leaves no receiver behind: the caller may try again
        without hearing each message twice."""
        receivers = self._receivers.get(channel)
        if receivers is not None and receiver in receivers:
            receivers.remove(receiver)
            if not receivers:
                del self._receivers[channel]

    def _reconnect(self) -> None:
        """Ask the listener for a new subscriber connection (it alone closes the old one);
        every receiver then reloads, since messages may have been missed meanwhile."""
        self._stale = True

    async def unsubscribe(self, channel: str, receiver: Receiver) -> None:
        receivers = self._receivers.get(channel)
        if not receivers or receiver not in receivers:
            return
        receivers.remove(receiver)
        if not receivers and self._keys is not None:
            del self._receivers[channel]
            names = self._redis_channels(self._keys, channel)
            self._live.difference_update(names)
            if self._pubsub is not None:
                with contextlib.suppress(*_UNAVAILABLE):
                    await self._pubsub.unsubscribe(*names)
        elif not receivers:
            del self._receivers[channel]

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._live = set()
        if pubsub is not None:
            # Bounded: a read cancelled inside the client library can leave the connection's
            # lock held, and a close that waits on it for ever would hang a shutdown (seen
            # once in CI, in a test's teardown); the socket is dropped with the object anyway.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await pubsub.aclose()

    async def _connect_pubsub(self) -> None:
        """A new subscriber connection with every channel that has receivers, confirmed. A
        channel that gains receivers while this runs is caught by the loop's second look."""
        k = await self._keyspace()
        if self.cluster:
            # After a failover the slots' map must be fresh before subscribing: a sharded
            # subscription goes to the master of the channel's slot.
            await self._client.nodes_manager.initialize()
        pubsub = ShardedSubscriber(self._client.pubsub()) if self.cluster else \
            self._client.pubsub()
        live: set[bytes] = set()
        try:
            wanted = {keys.IDLE_CHANNEL.encode()}
            while wanted - live:
                await self._subscribe(pubsub, *(wanted - live))
                for _ in range(len(wanted - live)):
                    reply = await self._next_message(pubsub, 1.0)
                    if reply is None:
                        raise RedisTimeoutError("no subscription confirmation")
                    if reply["type"] == "subscribe":
                        live.add(reply["channel"])
                wanted = {keys.IDLE_CHANNEL.encode(),
                          *(n for c in self._receivers for n in self._redis_channels(k, c))}
        except BaseException:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            raise
        self._pubsub, self._live = pubsub, live
        for name in [n for n in self._confirming if n in live]:
            confirmed = self._confirming.pop(name)
            if not confirmed.done():
                confirmed.set_result(None)

    @staticmethod
    async def _subscribe(pubsub: Any, *names: bytes) -> None:
        await pubsub.subscribe(*names)  # sharded on a cluster (ShardedSubscriber)

    @staticmethod
    async def _next_message(pubsub: Any, wait_s: float) -> dict[str, Any] | None:
        """The subscriber connection's next message or reply, None after `wait_s`."""
        message: dict[str, Any] | None = await pubsub.get_message(timeout=wait_s)
        return message

    async def _listen(self) -> None:
        """The one subscriber connection of this process: read, dispatch, and on failure
        reconnect with backoff, resubscribe, and tell every receiver it may have missed some."""
        backoff, missed = 0.05, False
        while not self._closing:
            stop_if_cancelled()
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
                message = await self._next_message(self._pubsub, 1.0)
                if message is None:
                    continue
                if message["type"] == "message":
                    # castimer:{shard}:<engine channel>
                    channel = message["channel"].decode().partition("}:")[2]
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


def _add_commit(k: keys.Keyspace, commit: Commit, script_keys: list[str],
                args: list[Any]) -> None:
    """One commit's keys and arguments, as commit.lua reads a block. The object's own keys
    are in its shard, its account's in the account's: the same shard, for ids made by
    `ids.owned_id`."""
    rundown = commit.collection == RUNDOWNS
    object_id, account_id = commit.timer_id, commit.account_id
    shard = k.shard_of(object_id)
    script_keys += [k.rundown(object_id) if rundown else k.timer(object_id),
                    k.deadlines(shard),
                    (k.account_rundowns if rundown else k.account_timers)(account_id),
                    k.account_events(account_id), k.timer_events(account_id, object_id),
                    k.outbox(shard), k.last_commit(object_id), k.delivery_seq(shard),
                    k.timer_deliveries(account_id, object_id), k.timer_queue(object_id),
                    k.rundown_timers(object_id),
                    *(k.delivery(d.id) for d in commit.deliveries)]
    args += [commit.expected_version, commit.version, commit.timer or b"",
             _index_member(commit.created_at_ms, object_id), object_id,
             "" if commit.deadline_ms is None else commit.deadline_ms, commit.message,
             k.channel_of(object_id, channel_of(commit.collection, object_id)), commit.id]
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


def _fairly(per_shard: Sequence[Sequence[tuple[bytes, float]]], limit: int,
            start: int) -> list[tuple[str, int]]:
    """Up to `limit` of the shards' due deadlines, taken from each shard in turn (from
    `start` on), so that one shard with many due cannot crowd out the others."""
    taken: list[tuple[str, int]] = []
    depth = 0
    while len(taken) < limit and any(depth < len(found) for found in per_shard):
        for step in range(len(per_shard)):
            found = per_shard[(start + step) % len(per_shard)]
            if depth < len(found) and len(taken) < limit:
                member, score = found[depth]
                taken.append((member.decode(), int(score)))
        depth += 1
    return taken


def _index_member(created_at_ms: int, timer_id: str) -> str:
    return f"{created_at_ms:015d}:{timer_id}"
