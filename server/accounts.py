"""Accounts, plans and API keys. Keys are stored only as SHA-256 digests; the key itself is
shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac

from . import ids
from .engines.base import Account, ApiKey, Engine, RateLimit

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


class AuthError(Exception):
    """The request's credentials are missing, malformed, unknown or revoked (401)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_plan(plan: str) -> str:
    if plan not in PLANS:
        raise ValueError(f"plan must be one of {', '.join(PLANS)}, got {plan!r}")
    return plan


async def add_account(engine: Engine, name: str, plan: str, now_ms: int) -> Account:
    account = Account(id=ids.account_id(), name=name, plan=check_plan(plan),
                      created_at_ms=now_ms, webhook_secret=ids.webhook_secret())
    await engine.add_account(account)
    return account


async def add_key_to(engine: Engine, account: Account, now_ms: int) -> tuple[str, ApiKey]:
    """A new key for `account` and its stored record; the key itself is not stored."""
    key = ids.api_key()
    record = ApiKey(id=ids.new_id("key_"), account_id=account.id, prefix=key[:SHOWN_PREFIX],
                    key_hash=hash_key(key), created_at_ms=now_ms)
    await engine.add_api_key(record)
    return key, record


async def add_key(engine: Engine, account: Account, now_ms: int) -> str:
    """Make a key for `account`; returns the key, which is not stored anywhere."""
    return (await add_key_to(engine, account, now_ms))[0]


async def key_for(engine: Engine, name: str, plan: str, now_ms: int) -> tuple[Account, str]:
    """A new key for the account called `name`, made (on `plan`) if there is none yet."""
    account = await engine.find_account(name)
    if account is None:
        account = await add_account(engine, name, plan, now_ms)
    return account, await add_key(engine, account, now_ms)


async def authenticate(engine: Engine, authorization: str | None,
                       now_ms: int) -> tuple[Account, ApiKey]:
    """The account behind an `Authorization: Bearer ck_live_…` header, or `AuthError`."""
    if not authorization:
        raise AuthError("missing API key: send the header 'Authorization: Bearer <API key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 200:
        raise AuthError("malformed Authorization header: it must be 'Bearer ck_live_…'")
    return await authenticate_digest(engine, hash_key(key), now_ms)


async def authenticate_digest(engine: Engine, digest: str,
                              now_ms: int) -> tuple[Account, ApiKey]:
    """The account behind the key with this SHA-256 digest (a Bearer key's, or the one a
    dashboard session names), checked against the store now: a revoked key fails at once."""
    found = await engine.find_api_key(digest)
    # The lookup is by digest; comparing again in constant time keeps timing flat even if an
    # engine's lookup ever matched loosely.
    if found is None or not hmac.compare_digest(found.key_hash, digest):
        raise AuthError("invalid API key")
    if found.revoked_at_ms is not None:
        raise AuthError("this API key has been revoked")
    account = await engine.get_account(found.account_id)
    if account is None:
        raise AuthError("this API key's account no longer exists")
    if found.last_used_ms is None or now_ms - found.last_used_ms >= TOUCH_EVERY_MS:
        await engine.touch_api_key(found.id, now_ms)
    return account, found


async def revoke(engine: Engine, prefix: str, now_ms: int) -> ApiKey:
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
