"""Every Redis key and channel name Castimer uses, in one place.

The keys are spread over *shards*, each with its own hash tag (`{0}`, `{1}`, …): on a Redis
Cluster each tag is one slot, so shards spread over the masters while every key one script
touches stays in one slot. An account lives in one shard, the shard of its id's home
(`ids.home_of`, modulo the shard count), and everything it owns carries the same home in its id:
its timers, rundowns and deliveries, their deadlines and outbox entries, its rate limit and its
keys' revocation and last use. So a timer's keys follow from its id, without a lookup.

The shard count is fixed when a store is first used and recorded in it (`SHARDS`). A store
made before shards existed has every key under `{0}`, which is shard 0's tag: it is recorded
as having one shard and is read as it is, unchanged.

The few look-ups by something other than an id (an account's name, a key's digest) are global
hashes under shard 0's tag, read by plain commands, never by a script that touches another
shard's keys."""

from __future__ import annotations

from .. import ids

#: how many entries an account's (and a timer's) event stream keeps, at least
EVENT_LOG_CAP = 100_000
#: the most shards a store may have (a shard is one hash tag, a slot on a cluster)
MAX_SHARDS = 1024


def prefix(shard: int) -> str:
    """Every key of `shard` starts with this: `castimer:{shard}:`."""
    return f"castimer:{{{shard}}}:"


_GLOBAL = prefix(0)
#: string: the store's shard count, written once when the store is first used
SHARDS = f"{_GLOBAL}shards"
#: hash: account name → account id (names are unique)
ACCOUNT_NAMES = f"{_GLOBAL}account-names"
#: hash: key digest → key JSON (immutable); use and revocation live in the account's shard
API_KEYS = f"{_GLOBAL}api-keys"
#: hash: key id → key digest
API_KEY_IDS = f"{_GLOBAL}api-key-ids"
#: Keys whose presence shows a store written before shards were recorded.
EXISTING = (ACCOUNT_NAMES, API_KEYS, f"{_GLOBAL}accounts", f"{_GLOBAL}deadlines",
            f"{_GLOBAL}outbox")
#: Subscribed by every process from the start, never published: keeps the subscriber
#: connection open before any real channel is.
IDLE_CHANNEL = f"{_GLOBAL}idle"


class Keyspace:
    """The key names of a store with `shards` shards."""

    __slots__ = ("_prefixes", "shards")

    def __init__(self, shards: int) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"a store has 1 to {MAX_SHARDS} shards, not {shards}")
        self.shards = shards
        self._prefixes = [prefix(s) for s in range(shards)]

    def shard_of(self, object_id: str) -> int:
        """The shard of an account, or of anything an account owns, from its id."""
        return ids.home_of(object_id) % self.shards

    def prefix_of(self, object_id: str) -> str:
        return self._prefixes[self.shard_of(object_id)]

    def prefixes(self) -> list[str]:
        """Every shard's prefix, shard 0 first."""
        return list(self._prefixes)

    # -- per shard ----------------------------------------------------------------------------

    def deadlines(self, shard: int) -> str:
        """Sorted set: member = timer id, score = deadline (epoch ms)."""
        return f"{self._prefixes[shard]}deadlines"

    def outbox(self, shard: int) -> str:
        """Sorted set: the head of each timer's delivery queue; member = 16-digit sequence ':'
        delivery id, score = due time (epoch ms), or a claim's lease end while in flight."""
        return f"{self._prefixes[shard]}outbox"

    def delivery_seq(self, shard: int) -> str:
        """Counter: orders the shard's deliveries as they are written."""
        return f"{self._prefixes[shard]}delivery-seq"

    def accounts(self, shard: int) -> str:
        """Hash: account id → account JSON, of the shard's accounts."""
        return f"{self._prefixes[shard]}accounts"

    def api_key_revoked(self, shard: int) -> str:
        """Hash: key id → revoked-at ms (HSETNX makes revocation atomic), of the shard's
        accounts' keys."""
        return f"{self._prefixes[shard]}api-key-revoked"

    def api_key_used(self, shard: int) -> str:
        """Hash: key id → last-use ms."""
        return f"{self._prefixes[shard]}api-key-used"

    def channel_in(self, shard: int, name: str) -> str:
        """The Redis channel of an engine channel `name` in `shard` (the wake-up channels
        `deadlines` and `outbox` have one per shard)."""
        return f"{self._prefixes[shard]}{name}"

    # -- per account --------------------------------------------------------------------------

    def account_key(self, account_id: str) -> str:
        """The accounts hash holding `account_id`."""
        return self.accounts(self.shard_of(account_id))

    def rate(self, account_id: str) -> str:
        """Hash {tat, day, count}: the account's rate-limit state."""
        return self.rate_prefix(account_id) + account_id

    def rate_prefix(self, owned_id: str) -> str:
        """What the rate hash of the owner of `owned_id` is named by, before the account id:
        admit_control.lua, which finds the account only in the timer it reads, names the hash
        from it (the timer and its owner share a shard)."""
        return f"{self.prefix_of(owned_id)}rate:"

    def account_timers(self, account_id: str) -> str:
        """Sorted set, all scores 0, members `created_ms(15 digits):timer_id`: lexical order is
        creation order, and a member is a cursor."""
        return f"{self.prefix_of(account_id)}account-timers:{account_id}"

    def account_rundowns(self, account_id: str) -> str:
        """Sorted set like `account_timers`, of the account's rundowns."""
        return f"{self.prefix_of(account_id)}account-rundowns:{account_id}"

    def account_events(self, account_id: str) -> str:
        """Stream: the account's event log; entry ids are the cursors."""
        return f"{self.prefix_of(account_id)}events:{account_id}"

    def timer_events(self, account_id: str, timer_id: str) -> str:
        """Stream: one timer's events, with the same entry ids as in the account's stream. The
        account is part of the name: timer ids are public, event logs are not."""
        return f"{self.prefix_of(account_id)}timer-events:{account_id}:{timer_id}"

    def timer_deliveries(self, account_id: str, timer_id: str) -> str:
        """Sorted set: a timer's delivery ids scored by their sequence number (newest last)."""
        return f"{self.prefix_of(account_id)}timer-deliveries:{account_id}:{timer_id}"

    # -- per object ---------------------------------------------------------------------------

    def timer(self, timer_id: str) -> str:
        """Hash {version, body}."""
        return f"{self.prefix_of(timer_id)}timer:{timer_id}"

    def rundown(self, rundown_id: str) -> str:
        """Hash {version, body}."""
        return f"{self.prefix_of(rundown_id)}rundown:{rundown_id}"

    def rundown_timers(self, rundown_id: str) -> str:
        """Set: the timers of a rundown, as its latest commit listed them."""
        return f"{self.prefix_of(rundown_id)}rundown-timers:{rundown_id}"

    def timer_rundowns(self, timer_id: str) -> str:
        """Set: the rundowns a timer is in. commit.lua builds these names from the prefix
        (`timer_rundowns_prefix`): they share the hash tag of the keys it declares."""
        return f"{self.timer_rundowns_prefix(timer_id)}{timer_id}"

    def timer_rundowns_prefix(self, owned_id: str) -> str:
        return f"{self.prefix_of(owned_id)}timer-rundowns:"

    def last_commit(self, object_id: str) -> str:
        """String: the id of the object's latest commit (kept a day after a deletion too), so
        a re-sent commit is recognised as already applied."""
        return f"{self.prefix_of(object_id)}last-commit:{object_id}"

    def delivery(self, delivery_id: str) -> str:
        """Hash: one delivery's fields (as `base.Delivery`), its `seq` and, while leased,
        `claim`. The Lua scripts build this name (and the two below) from the shard's prefix
        themselves: all share the hash tag of the keys the scripts declare."""
        return f"{self.prefix_of(delivery_id)}delivery:{delivery_id}"

    def delivery_attempts(self, delivery_id: str) -> str:
        """List: the delivery's attempts as JSON, oldest first."""
        return f"{self.prefix_of(delivery_id)}delivery-attempts:{delivery_id}"

    def timer_queue(self, timer_id: str) -> str:
        """Sorted set: the timer's pending delivery ids by sequence; only the first is in the
        shard's outbox."""
        return f"{self.prefix_of(timer_id)}timer-queue:{timer_id}"

    def presence(self, timer_id: str) -> str:
        """Hash process id → "viewers:expires_ms": who watches the timer, process by process."""
        return f"{self.prefix_of(timer_id)}presence:{timer_id}"

    def channel_of(self, object_id: str, name: str) -> str:
        """The Redis channel of an object's engine channel `name` (`timer:{id}`…)."""
        return f"{self.prefix_of(object_id)}{name}"
