"""Every Redis key and channel name Castimer uses, in one place.

Every key carries the hash tag `{0}`, so all keys a script touches live in one Redis Cluster
slot and the scripts run unchanged on a cluster; spreading timers over several tags is a change
here, not a rewrite."""

TAG = "{0}"
PREFIX = f"castimer:{TAG}:"

#: timer id → hash {version, body}
def timer(timer_id: str) -> str:
    return f"{PREFIX}timer:{timer_id}"


#: rundown id → hash {version, body}
def rundown(rundown_id: str) -> str:
    return f"{PREFIX}rundown:{rundown_id}"


def account_rundowns(account_id: str) -> str:
    """Sorted set like `account_timers`, of the account's rundowns."""
    return f"{PREFIX}account-rundowns:{account_id}"


def rundown_timers(rundown_id: str) -> str:
    """Set: the timers of a rundown, as its latest commit listed them."""
    return f"{PREFIX}rundown-timers:{rundown_id}"


def timer_rundowns(timer_id: str) -> str:
    """Set: the rundowns a timer is in. commit.lua builds these names from the prefix
    (`timer_rundowns("")`): they share the hash tag of the keys it declares."""
    return f"{PREFIX}timer-rundowns:{timer_id}"


#: sorted set: member = timer id, score = deadline (epoch ms)
DEADLINES = f"{PREFIX}deadlines"
#: sorted set: the head of each timer's delivery queue; member = 16-digit sequence ':' delivery
#: id, score = due time (epoch ms), or a claim's lease end while it is in flight
OUTBOX = f"{PREFIX}outbox"
#: hash: account id → account JSON
ACCOUNTS = f"{PREFIX}accounts"
#: hash: account name → account id (names are unique)
ACCOUNT_NAMES = f"{PREFIX}account-names"
#: hash: key digest → key JSON (immutable); use and revocation live beside it
API_KEYS = f"{PREFIX}api-keys"
#: hash: key id → key digest
API_KEY_IDS = f"{PREFIX}api-key-ids"
#: hash: key id → revoked-at ms (HSETNX makes revocation atomic)
API_KEY_REVOKED = f"{PREFIX}api-key-revoked"
#: hash: key id → last-use ms
API_KEY_USED = f"{PREFIX}api-key-used"
#: how many entries an account's (and a timer's) event stream keeps, at least
EVENT_LOG_CAP = 100_000


def account_timers(account_id: str) -> str:
    """Sorted set, all scores 0, members `created_ms(15 digits):timer_id`: lexical order is
    creation order, and a member is a cursor."""
    return f"{PREFIX}account-timers:{account_id}"


def account_events(account_id: str) -> str:
    """Stream: the account's event log; entry ids are the cursors."""
    return f"{PREFIX}events:{account_id}"


def timer_events(account_id: str, timer_id: str) -> str:
    """Stream: one timer's events, with the same entry ids as in the account's stream. The
    account is part of the name: timer ids are public, event logs are not."""
    return f"{PREFIX}timer-events:{account_id}:{timer_id}"


def last_commit(timer_id: str) -> str:
    """String: the id of the timer's latest commit (kept a day after a deletion too), so a
    re-sent commit is recognised as already applied."""
    return f"{PREFIX}last-commit:{timer_id}"


def delivery(delivery_id: str) -> str:
    """Hash: one delivery's fields (as `base.Delivery`), its `seq` and, while leased, `claim`.
    The Lua scripts build this name (and the three below) from PREFIX themselves: all share
    the hash tag, so they live in the slot of the keys the scripts declare."""
    return f"{PREFIX}delivery:{delivery_id}"


def delivery_attempts(delivery_id: str) -> str:
    """List: the delivery's attempts as JSON, oldest first."""
    return f"{PREFIX}delivery-attempts:{delivery_id}"


def timer_deliveries(account_id: str, timer_id: str) -> str:
    """Sorted set: a timer's delivery ids scored by their sequence number (newest last)."""
    return f"{PREFIX}timer-deliveries:{account_id}:{timer_id}"


def timer_queue(timer_id: str) -> str:
    """Sorted set: the timer's pending delivery ids by sequence; only the first is in OUTBOX."""
    return f"{PREFIX}timer-queue:{timer_id}"


#: counter: orders deliveries as they are written
DELIVERY_SEQ = f"{PREFIX}delivery-seq"


#: What every account's rate hash is named by, before the account id: admit_control.lua, which
#: finds the account only in the timer it reads, names the hash from it.
RATE_PREFIX = f"{PREFIX}rate:"


def rate(account_id: str) -> str:
    """Hash {tat, day, count}: the account's rate-limit state."""
    return RATE_PREFIX + account_id


def presence(timer_id: str) -> str:
    """Hash process id → "viewers:expires_ms": who watches the timer, process by process."""
    return f"{PREFIX}presence:{timer_id}"


def channel(name: str) -> str:
    """The Redis pub/sub channel behind an engine channel name."""
    return f"{PREFIX}{name}"


#: Subscribed by every process from the start, never published: keeps the subscriber
#: connection open before any real channel is.
IDLE_CHANNEL = channel("idle")
