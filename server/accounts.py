"""Accounts, plans, API keys and control tokens as credentials. Keys are stored only as SHA-256
digests; the key itself is shown once, when it is made. A control token (`ctl_…`) is the
credential of one timer, held by a presenter or a hardware controller: its requests are the
timer owner's, counted against the owner's plan."""

from __future__ import annotations

import hashlib
import hmac
import re
import weakref
from dataclasses import dataclass

from . import ids
from .engines.base import Account, Admission, ApiKey, RateLimit, RateStatus, Store

PLANS: dict[str, RateLimit] = {
    "free": RateLimit(per_minute=30, per_day=1000),
    "pro": RateLimit(per_minute=120, per_day=10_000),
    "enterprise": RateLimit(per_minute=600, per_day=None),
    # For the operator's own integrations (and benchmarks): counted like any other, but with
    # no budget a real load reaches.
    "unlimited": RateLimit(per_minute=1_000_000_000, per_day=None),
}
KEY_PREFIX = "ck_live_"
SHOWN_PREFIX = len(KEY_PREFIX) + 8  # how much of a key lists show: enough to tell keys apart
TOUCH_EVERY_MS = 60_000  # last use is kept to the minute, so most requests write nothing
#: How many keys' records a process keeps per engine (a full table starts again empty).
KNOWN_KEYS = 10_000
CONTROL_PREFIX = "ctl_"
#: A control token as `ids.control_token` makes them (33 base62 digits), with room to change;
#: anything else after the prefix is refused as malformed before the store is asked.
_CONTROL_TOKEN = re.compile(r"ctl_[0-9A-Za-z]{16,64}")

#: Key records already looked up, by engine and digest. A record never changes once made: its
#: revocation and last use are kept beside it and read from the store by `engine.admit` on
#: every request, so a key revoked by any process is refused by every process at once, and
#: what is kept here saves only the look-up of digest → key id and account.
_known: weakref.WeakKeyDictionary[Store, dict[str, ApiKey]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request is from, and what letting it in found."""

    account: Account
    key: ApiKey | None  # None: a control token's request (the account is the timer's owner)
    rate: RateStatus | None  # its hit on the account's budget, when it was counted
    timer: bytes | None = None  # the timer it names, when asked for (None: no such timer)
    viewers: int = 0  # that timer's viewers, read with it

    @property
    def by_control_token(self) -> bool:
        return self.key is None


class AuthError(Exception):
    """The request's credentials are missing, malformed, unknown or revoked (401)."""


class ControlTokenRefused(AuthError):
    """A control token where it does not reach: another endpoint, another timer, or a token
    rotated away. A 404, as for what does not exist: it tells neither whether the timer exists
    nor whether the token ever was good (a token that is not the timer's current one cannot
    be told from another timer's: no index of tokens is kept)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise ValueError(f"plan must be one of {', '.join(PLANS)}, got {plan!r}")
    return plan


async def add_account(engine: Store, name: str, plan: str, now_ms: int) -> Account:
    account = Account(id=ids.account_id(), name=name, plan=check_plan(plan),
                      created_at_ms=now_ms, webhook_secret=ids.webhook_secret())
    await engine.add_account(account)
    return account


async def add_key_to(engine: Store, account: Account, now_ms: int) -> tuple[str, ApiKey]:
    """A new key for `account` and its stored record; the key itself is not stored."""
    key = ids.api_key()
    record = ApiKey(id=ids.new_id("key_"), account_id=account.id, prefix=key[:SHOWN_PREFIX],
                    key_hash=hash_key(key), created_at_ms=now_ms)
    await engine.add_api_key(record)
    return key, record


async def add_key(engine: Store, account: Account, now_ms: int) -> str:
    """Make a key for `account`; returns the key, which is not stored anywhere."""
    return (await add_key_to(engine, account, now_ms))[0]


async def key_for(engine: Store, name: str, plan: str, now_ms: int) -> tuple[Account, str]:
    """A new key for the account called `name`, made (on `plan`) if there is none yet."""
    account = await engine.find_account(name)
    if account is None:
        account = await add_account(engine, name, plan, now_ms)
    return account, await add_key(engine, account, now_ms)


async def authenticate(engine: Store, authorization: str | None, now_ms: int, *,
                       counted: bool = False, timer_id: str | None = None) -> Caller:
    """The caller behind an `Authorization: Bearer ck_live_…` header, or `AuthError`; with
    `counted`, the request is counted against the account's plan; with `timer_id`, that
    timer's stored body comes too (all of it in one round trip to the store)."""
    if not authorization:
        raise AuthError("missing API key: send the header 'Authorization: Bearer <API key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 200:
        raise AuthError("malformed Authorization header: it must be 'Bearer ck_live_…' (an "
                        "API key) or 'Bearer ctl_…' (a timer's control token)")
    return await authenticate_digest(engine, hash_key(key), now_ms, counted=counted,
                                     timer_id=timer_id)


def control_token_in(authorization: str | None) -> str | None:
    """The control token an `Authorization: Bearer ctl_…` header carries; None for any other
    header (an API key's, or none); `AuthError` for a malformed control token. The token is
    never part of a message: messages end up in logs."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(CONTROL_PREFIX):
        return None
    if not _CONTROL_TOKEN.fullmatch(token):
        raise AuthError("malformed control token: after 'ctl_' come 16 to 64 letters and "
                        "digits, as in the timer's urls.control (…/control/tmr_…#token=ctl_…)")
    return token


async def authenticate_control(engine: Store, token: str, now_ms: int, param: str,
                               controlled_id: str) -> Caller:
    """The owner of what the path parameter `param` names (`timer_id`: a timer) if `token` is
    its current control token, with the request counted against the owner's plan and its
    stored body read, in one round trip to the store; `ControlTokenRefused` otherwise.

    The token is checked here, on the way in, not again at the endpoint's commit: a rotation
    committed in between lets this one request through, as a presenter's command sent just
    before the rotation would be; every later request is refused."""
    admitted = await engine.admit_control(token, now_ms, plans=PLANS, **{param: controlled_id})
    if admitted.account is None:
        what = param.removesuffix("_id")
        raise ControlTokenRefused(
            f"no {what} {controlled_id!r} for this control token (after a rotation only the "
            f"new one works: see the {what}'s urls.control)", "id")
    return Caller(admitted.account, None, admitted.rate, admitted.timer, admitted.viewers)


async def authenticate_digest(engine: Store, digest: str, now_ms: int, *,
                              counted: bool = False, timer_id: str | None = None) -> Caller:
    """The caller with the key of this SHA-256 digest (a Bearer key's, or the one a dashboard
    session names), checked against the store now: a revoked key fails at once."""
    known = _known.setdefault(engine, {})
    found = known.get(digest)
    if found is None:
        found = await engine.find_api_key(digest)
        # The lookup is by digest; comparing again in constant time keeps timing flat even if
        # an engine's lookup ever matched loosely.
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            raise AuthError("invalid API key")
        if len(known) >= KNOWN_KEYS:
            known.clear()
        known[digest] = found
    admitted = await engine.admit(found, now_ms, touch_after_ms=TOUCH_EVERY_MS,
                                  plans=PLANS if counted else None, timer_id=timer_id)
    return admitted_caller(admitted, found)


def admitted_caller(admitted: Admission, key: ApiKey) -> Caller:
    """The caller `key` is, as its admission found it; `AuthError` if it was refused."""
    if admitted.revoked_at_ms is not None:
        raise AuthError("this API key has been revoked")
    if admitted.account is None:
        raise AuthError("this API key's account no longer exists")
    return Caller(admitted.account, key, admitted.rate, admitted.timer, admitted.viewers)


def known_key(engine: Store, authorization: str | None) -> ApiKey | None:
    """The record of the API key an `Authorization: Bearer ck_live_…` header carries, if this
    process has looked it up before (`authenticate`); None for anything else, which
    `authenticate` then judges. Whether the key is still live is not known from this."""
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    known = _known.get(engine)
    return None if known is None else known.get(hash_key(key))


async def revoke(engine: Store, prefix: str, now_ms: int) -> ApiKey:
    """Revoke the one live key whose shown prefix starts with `prefix`."""
    if len(prefix) < len(KEY_PREFIX) + 4:
        raise ValueError(f"give at least {len(KEY_PREFIX) + 4} characters of the key, "
                         f"as `castimer keys list` shows them")
    matches = [k for k in await engine.list_api_keys()
               if k.revoked_at_ms is None and (k.prefix.startswith(prefix)
                                              or prefix.startswith(k.prefix))]
    if not matches:
        raise ValueError(f"no live key starts with {prefix!r}")
    if len(matches) > 1:
        raise ValueError(f"{len(matches)} live keys start with {prefix!r}; give more of it")
    await engine.revoke_api_key(matches[0].id, now_ms)
    return matches[0]
