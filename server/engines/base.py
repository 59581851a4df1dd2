"""What an engine promises, in a few narrow Protocols: `Store` (accounts, keys, timers,
rundowns, the event log and the commit), `Outbox` (webhook deliveries), `RateLimits`, `Presence`,
`PubSub`, and `Lifecycle` (open, close, ping). Every engine implements all of them: `Engine` is
their union. A caller is typed against the one it uses. The contract suite in
tests/engines/contract has one module per Protocol and runs each test against every engine.

Every method is a coroutine safe to call from one event loop; any method may raise
`EngineUnavailable` when the store cannot be reached.

Engines store and transport bytes: timers, events and deliveries arrive serialised, and an
engine never interprets a timer. Local fan-out to sockets is the hub's job, not the engine's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

log = logging.getLogger("castimer.engines")

#: Channel on which every commit that sets a deadline publishes it (ASCII epoch ms), so
#: schedulers in every process wake early for a deadline sooner than the one they sleep on.
DEADLINES_CHANNEL = "deadlines"
#: Channel on which every commit that writes deliveries publishes their count (ASCII), to wake
#: webhook dispatchers; the outbox itself is durable and polled as a fallback.
OUTBOX_CHANNEL = "outbox"


def timer_channel(timer_id: str) -> str:
    """The state channel of one timer: every commit of that timer publishes here."""
    return f"timer:{timer_id}"


def rundown_channel(rundown_id: str) -> str:
    """The channel of one rundown: every commit of that rundown publishes here."""
    return f"rundown:{rundown_id}"


#: What a commit writes: a timer, or a rundown (a show's timers in order). Both are versioned
#: bodies under their own id; they differ in the account index they are listed in, their
#: channel, and a rundown's list of timers, which the engine indexes (`rundowns_of`).
TIMERS, RUNDOWNS = "timers", "rundowns"


def channel_of(collection: str, object_id: str) -> str:
    return rundown_channel(object_id) if collection == RUNDOWNS else timer_channel(object_id)


class EngineError(Exception):
    """Base of engine failures."""


class EngineUnavailable(EngineError):
    """The store cannot be reached right now (the API answers 503); retrying later may work."""


class VersionConflict(EngineError):
    """A commit's expected version did not match; `current` is the stored version (0: absent)
    of `object_id`, the timer or rundown whose check failed (None: not known)."""

    def __init__(self, current: int, object_id: str | None = None) -> None:
        super().__init__(f"version conflict: stored version is {current}")
        self.current = current
        self.object_id = object_id


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    plan: str
    created_at_ms: int
    # Kept out of repr: an account in a log line or a traceback must not leak its secrets.
    webhook_secret: str = field(repr=False)
    previous_webhook_secret: str | None = field(default=None, repr=False)
    previous_secret_expires_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: never the key itself, only its SHA-256 hex digest."""

    id: str
    account_id: str
    prefix: str
    key_hash: str
    created_at_ms: int
    last_used_ms: int | None = None
    revoked_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event-log entry; `body` is the event's JSON as the API returns it."""

    id: str
    account_id: str
    timer_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One webhook delivery in the transactional outbox, due at `due_ms`."""

    id: str
    account_id: str
    timer_id: str
    event_id: str
    url: str
    body: bytes
    due_ms: int


#: Where a delivery stands: `pending` (an attempt is due at `due_ms`, or in flight), then one of
#: `succeeded`, `failed` (the schedule ran out) or `cancelled` (the receiver answered 410).
PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as stored, with where it stands."""

    id: str
    account_id: str
    timer_id: str
    event_id: str
    url: str
    body: bytes
    status: str
    #: When the next attempt is due (while pending); while an attempt is in flight, when its
    #: lease runs out and another dispatcher may take it over.
    due_ms: int
    created_at_ms: int
    #: Attempts made in all, and since the delivery was last (re)started: the retry schedule
    #: counts the latter, so a manual retry gets the whole schedule again.
    attempts: int = 0
    run_attempts: int = 0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of a delivery and what came of it."""

    number: int
    at_ms: int
    duration_ms: int
    status_code: int | None  # None: no HTTP answer (refused, timed out, unsafe target)
    response: str  # the first 2 KiB of the response body
    error: str | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a dispatcher holds until its lease runs out, with the account that signs it."""

    delivery: Delivery
    account: Account
    claim: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a dispatcher reports for one claimed delivery after an attempt."""

    delivery_id: str
    claim: str
    attempt: Attempt
    #: The delivery's new status, and for `pending` when the next attempt is due.
    status: str
    due_ms: int | None = None
    #: The receiver answered 410 Gone: cancel the timer's other pending deliveries to the URL.
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Commit:
    """One change of one timer, applied by `Store.commit` as a single atomic unit."""

    #: Unique per commit: lets an engine recognise its own commit sent twice (a reply lost
    #: on the way back) and report success instead of a conflict.
    id: str
    timer_id: str
    account_id: str
    #: The version the change was computed from; 0 means the timer must not exist yet.
    expected_version: int
    #: The new version (expected_version + 1).
    version: int
    #: The new timer, serialised; None deletes the timer (its events stay in the log).
    timer: bytes | None
    #: Creation time, which orders an account's timer list; stable for the timer's life.
    created_at_ms: int
    #: When the scheduler must next look at this timer; None removes its deadline.
    deadline_ms: int | None
    events: Sequence[EventRecord]
    deliveries: Sequence[DeliveryRecord]
    #: Published on the timer's state channel once the write is durable.
    message: bytes
    #: TIMERS, or RUNDOWNS: then `timer_id` is the rundown's id, `timer` its body, the
    #: deadline None, and `members` its timers in order, which `rundowns_of` indexes.
    collection: str = TIMERS
    members: Sequence[str] = ()
    #: Further commits applied in the same atomic unit: every version check of this commit and
    #: of these passes, or nothing of any of them is written (a rundown's advance: the rundown,
    #: the timer it stops, the timer it starts).
    linked: Sequence[Commit] = ()


def check_group(commit: Commit) -> None:
    """A commit and its linked commits name each object once: two changes of one object from
    the same version would both pass its check in one group (a bug of the caller's)."""
    if not commit.linked:
        return
    named = [one.timer_id for one in (commit, *commit.linked)]
    if len(set(named)) != len(named):
        raise ValueError(f"a commit group names an object more than once: {named}")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A plan's budget: `per_minute` by GCRA, `per_day` by a counter for the UTC day."""

    per_minute: int
    per_day: int | None


@dataclass(frozen=True, slots=True)
class RateStatus:
    allowed: bool
    limit: int  # the budget the figures below describe (the tighter of minute and day)
    remaining: int
    reset_s: int  # seconds until that budget is whole again
    window_s: int
    retry_after_s: int  # when refused: seconds until a request would be allowed
    used_today: int = 0  # requests counted in the current UTC day, this one included


@dataclass(frozen=True, slots=True)
class Admission:
    """What `Store.admit` found for one request's key."""

    revoked_at_ms: int | None  # set: the key is revoked, and nothing else was looked at
    account: Account | None  # None: the key's account is gone (nothing counted either)
    rate: RateStatus | None  # the request counted against the account's budget, if asked
    timer: bytes | None = None  # the timer asked for, as `get_timer` returns it
    viewers: int = 0  # its viewers, as `count_viewers` counts them


@dataclass(frozen=True, slots=True)
class AdmittedCommit:
    """What `Store.admit_commit` did with one write request."""

    #: Its way in, as `admit` finds it (`timer` and `viewers` those of the commit's timer after
    #: this step: when only a version check failed, the body to compute from again).
    admission: Admission
    committed: bool  # the commit is written (and published)


Receiver = Callable[[bytes], None]


def deliver(receivers: Iterable[Receiver], message: bytes) -> None:
    """Hand `message` to each receiver; one that raises is logged and does not stop the rest
    (nor fail the commit that published)."""
    for receiver in tuple(receivers):
        try:
            receiver(message)
        except Exception:
            log.exception("a pub/sub receiver failed")


@runtime_checkable
class Lifecycle(Protocol):
    """Opening and closing an engine, and asking whether its store answers (the app's
    lifespan, the command line, the readiness probe)."""

    url: str

    async def open(self) -> None:
        """Connect and create the schema if it is missing. Idempotent."""

    async def close(self) -> None:
        """Release connections; pending subscriptions end."""

    async def ping(self) -> None:
        """Return when the store answers; raise `EngineUnavailable` otherwise (readiness)."""


@runtime_checkable
class Store(Protocol):
    """The store of accounts, API keys, timers, rundowns and the event log, and the one commit
    path that writes them (the API, the commit path in server/commit.py, the scheduler)."""

    #: Whether `admit_commit` saves a round trip over `admit` then `commit` (Redis): only then
    #: does the API compute a write before its way in. (In one process, the SQLite engine's,
    #: there is no trip to save, and holding a timer's turn through the way in would only
    #: thin its group commits: measured, 15 µs more CPU per PATCH.)
    one_trip_writes: bool

    # -- accounts and API keys ----------------------------------------------------------------

    async def add_account(self, account: Account) -> None:
        """Store a new account. Names are unique: a taken name raises `ValueError`."""

    async def get_account(self, account_id: str) -> Account | None:
        """The account with this id, or None."""

    async def find_account(self, name: str) -> Account | None:
        """The account with exactly this name, or None."""

    async def count_accounts(self) -> int:
        """How many accounts there are."""

    async def list_accounts(self) -> list[Account]:
        """Every account, oldest first."""

    async def set_plan(self, account_id: str, plan: str) -> Account | None:
        """Put the account on `plan` (checked by the caller), atomically with respect to a
        secret rotation; None if there is no such account."""

    async def add_api_key(self, key: ApiKey) -> None:
        """Store a new key record (its digest, never the key itself)."""

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this SHA-256 digest, revoked or not, or None."""

    async def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]:
        """Keys oldest first, of one account or of all."""

    async def revoke_api_key(self, key_id: str, now_ms: int) -> bool:
        """Mark revoked at once for every process; False if there is no such live key."""

    async def touch_api_key(self, key_id: str, now_ms: int) -> None:
        """Record a use. Best effort: callers may throttle it; losing one is harmless."""

    async def admit(self, key: ApiKey, now_ms: int, *, touch_after_ms: int,
                    plans: Mapping[str, RateLimit] | None = None,
                    timer_id: str | None = None) -> Admission:
        """One request's way in, in one step (on Redis one round trip): whether `key` is
        revoked now, as every process sees it; if not, its account; if that exists, its last
        use set to `now_ms` when the recorded one is `touch_after_ms` old or more, one request
        counted against the account's budget at its plan's rate in `plans` (as
        `hit_rate_limit`; not when `plans` is None), and the stored body of `timer_id` when
        one is given (as `get_timer`). A revoked key or a missing account counts nothing."""

    async def admit_commit(self, key: ApiKey, now_ms: int, commit: Commit, *,
                           touch_after_ms: int,
                           plans: Mapping[str, RateLimit]) -> AdmittedCommit:
        """A write request's way in and its commit (of a timer, with any linked commits) in
        one step: on Redis one round trip, one script, with nothing run between the two. The
        way in is `admit`'s, counted at `plans`, for the commit's timer; the commit is then
        applied as `commit` applies it, but only if the key is live, its account exists and
        the account's budget allows the request; a version check that fails writes nothing
        and raises nothing: `committed` is False and the admission carries the timer's stored
        body. A refused request (revoked, no account, over budget) writes nothing."""

    async def admit_control(self, token: str, now_ms: int, *, plans: Mapping[str, RateLimit],
                            timer_id: str | None = None,
                            rundown_id: str | None = None) -> Admission:
        """One request's way in with a control token instead of a key, in one step (on Redis
        one round trip): if `token` is the current `control_token` of the timer `timer_id` (or
        of the rundown `rundown_id`: then its body comes as `timer`, and no viewers)
        (compared in constant time; the token itself never goes to a store's command log),
        that timer's owner account, one request counted against the owner's budget at its
        plan's rate in `plans` (as `hit_rate_limit`), the timer's stored body (as `get_timer`)
        and its viewers. Otherwise — no such timer, another token, an owner gone — an
        Admission with no account, and nothing counted: a timer's id is public."""

    # -- timers -------------------------------------------------------------------------------

    async def get_timer(self, timer_id: str) -> bytes | None:
        """The latest committed timer, or None if it never existed or was deleted."""

    async def list_timers(self, account_id: str, cursor: str | None,
                          limit: int) -> tuple[list[bytes], str | None]:
        """An account's timers in creation order, at most `limit`, starting after `cursor`;
        returns the page and the cursor of the next page (None when this is the last)."""

    async def commit(self, commit: Commit) -> None:
        """Apply `commit` and its `linked` commits all or nothing, each as follows: if the
        stored version equals `expected_version` (0: no timer stored), write the timer (or
        delete it), set or clear its deadline, append its events to the account's log in
        order, and add its deliveries to the outbox; otherwise write nothing and raise
        `VersionConflict` with the stored version.
        Once durable, publish `message` on the timer's channel, the deadline on
        DEADLINES_CHANNEL when one is set, and on OUTBOX_CHANNEL when deliveries were added.
        Two commits from the same version race: exactly one succeeds. Committing the same
        `Commit` (same id) again after it was applied succeeds and writes nothing, so a commit
        whose reply was lost may be re-sent. A failed check of any of the linked commits writes
        nothing either and raises `VersionConflict` naming that object; a group that names
        one object twice is refused with `ValueError` before anything is sent. A RUNDOWNS
        commit lists the rundown in the account's rundowns (not its timers), publishes on its
        `rundown_channel`, and replaces the rundown's entries in the `rundowns_of` index by
        `members` (a deletion removes them)."""

    async def get_rundown(self, rundown_id: str) -> bytes | None:
        """The latest committed rundown, or None if it never existed or was deleted."""

    async def list_rundowns(self, account_id: str, cursor: str | None,
                            limit: int) -> tuple[list[bytes], str | None]:
        """An account's rundowns in creation order, paged as `list_timers`."""

    async def rundowns_of(self, timer_id: str) -> list[str]:
        """The ids of the rundowns whose committed `members` include the timer, in any order."""

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` (timer id, deadline) pairs with deadline ≤ now, earliest first. Does
        not claim them: several schedulers may see the same timer; commit's version check
        lets one of them win."""

    async def next_deadline(self) -> int | None:
        """The earliest deadline of any timer, or None."""

    # -- event log ----------------------------------------------------------------------------

    async def list_events(self, account_id: str, cursor: str | None, limit: int,
                          timer_id: str | None = None) -> tuple[list[EventRecord], str | None]:
        """An account's events in commit order (oldest first), optionally of one timer, at
        most `limit` after `cursor`; returns the page and the next cursor (None at the end)."""

    # -- account secrets ----------------------------------------------------------------------

    async def rotate_webhook_secret(self, account_id: str, secret: str, now_ms: int,
                                    overlap_ms: int) -> Account | None:
        """Make `secret` the account's signing secret; the old one becomes the previous secret,
        valid until `now_ms + overlap_ms`. Atomic; None if there is no such account."""



@runtime_checkable
class Outbox(Protocol):
    """The transactional outbox of webhook deliveries, which `Store.commit` fills (the webhook
    dispatcher, the deliveries API, /metrics)."""

    async def add_deliveries(self, deliveries: Sequence[DeliveryRecord], now_ms: int) -> None:
        """Add deliveries to the outbox outside a timer commit (the send-test action), due at
        their `due_ms`; publish on OUTBOX_CHANNEL once durable."""

    async def claim_deliveries(self, now_ms: int, limit: int,
                               lease_ms: int) -> list[ClaimedDelivery]:
        """Atomically for every process: take up to `limit` pending deliveries due by `now_ms`,
        earliest first (in the order they were written when equally due), and lease them to
        the caller until `now_ms + lease_ms`, after which they are due again (a dispatcher that
        died is replaced). At most one delivery per timer is taken, and none of a timer that has
        one in flight (leased, lease not run out): each timer's deliveries go out one at a time,
        in order. Each comes with its account (for the signing secrets) and a claim token."""

    async def finish_deliveries(self, outcomes: Sequence[Outcome]) -> None:
        """Record each outcome's attempt and release its timer. The new status and due time are
        applied only while the claim is still the delivery's (a lease that ran out may have
        been taken over); a success is applied in any case, and is final. A `gone` outcome also
        cancels the timer's other pending deliveries to the same URL. Publishes on
        OUTBOX_CHANNEL, since the timers released may have deliveries waiting."""

    async def next_delivery_ms(self) -> int | None:
        """When the earliest pending delivery is due (or its lease runs out), or None."""

    async def outbox_depth(self, now_ms: int) -> tuple[int, int]:
        """(timers with a delivery pending, those of them whose next delivery is due by
        `now_ms` and not in flight): the outbox at a glance, for /metrics. Each timer counts
        once, for its next delivery; the ones queued behind it are not counted. Cheap at any
        size: an index or a sorted set answers it."""

    async def get_delivery(self, delivery_id: str) -> tuple[Delivery, list[Attempt]] | None:
        """A delivery with its attempts, oldest first; None if there is no such delivery."""

    async def list_deliveries(self, account_id: str, timer_id: str, cursor: str | None,
                              limit: int) -> tuple[list[Delivery], str | None]:
        """One timer's deliveries of this account, newest first, at most `limit` after `cursor`;
        returns the page and the next cursor (None at the end). Deliveries outlive their
        timer."""

    async def retry_delivery(self, delivery_id: str, now_ms: int) -> Delivery | None:
        """Start a finished delivery (succeeded, failed or cancelled) again: pending, due now,
        with the whole retry schedule ahead; publish on OUTBOX_CHANNEL. A delivery that is
        pending already is returned unchanged; None if there is no such delivery."""


@runtime_checkable
class RateLimits(Protocol):
    """Each account's request budget, shared by every process (counted on the way in by
    `Store.admit`; also the control socket and the command line)."""

    async def hit_rate_limit(self, account_id: str, rate: RateLimit,
                             now_ms: int) -> RateStatus:
        """Count one request against the account's budget, atomically for every process that
        shares this engine; a refused request consumes nothing. The day's count survives a
        restart of the server (the SQLite engine may lose its last second or so to a crash)."""

    async def usage_today(self, account_id: str, now_ms: int) -> int:
        """Requests counted for the account in the UTC day of `now_ms`, without counting one
        (another process's latest counts may be a second or so behind on SQLite)."""


@runtime_checkable
class Presence(Protocol):
    """How many viewer sockets each timer has, across every process (the hub)."""

    async def set_presence(self, timer_id: str, process_id: str, viewers: int,
                           expires_ms: int) -> None:
        """Record that process `process_id` holds `viewers` viewer sockets of the timer, until
        `expires_ms` unless recorded again; 0 forgets the process's entry. A process that dies
        stops counting when its entries expire."""

    async def count_viewers(self, timer_ids: Sequence[str], now_ms: int) -> list[int]:
        """For each timer, the viewers of every process whose entry has not expired by
        `now_ms`; one round trip for the whole list."""


@runtime_checkable
class PubSub(Protocol):
    """Fire-and-forget messages between processes: commits publish, the hub, the scheduler and
    the webhook dispatcher listen. Delivery to local sockets is the hub's, not this."""

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver `message` to every current subscriber of `channel` in every process; fire
        and forget (a subscriber that is down misses it)."""

    async def subscribe(self, channel: str, receiver: Receiver) -> None:
        """Call `receiver(message)` on the event loop for each message on `channel`, in
        publish order, until unsubscribed. Receivers must not block. If the transport was
        interrupted and restored, every receiver is called once with an empty message:
        messages may have been missed, so reload what you hold."""

    async def unsubscribe(self, channel: str, receiver: Receiver) -> None:
        """Stop calling `receiver` for `channel`; a receiver that is not subscribed is
        ignored. The channel's subscription ends with its last receiver."""


@runtime_checkable
class Engine(Lifecycle, Store, Outbox, RateLimits, Presence, PubSub, Protocol):
    """Storage and transport for Castimer: every Protocol above in one object, as
    `create_engine` makes it. A caller that needs only part of it is typed against that part."""
