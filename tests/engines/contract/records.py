"""What the contract tests write: commits of timers and rundowns, and accounts, at T0."""

from __future__ import annotations

from dataclasses import replace

import orjson

from server import ids
from server.engines.base import RUNDOWNS, Account, Commit, DeliveryRecord, EventRecord

T0 = 1_800_000_000_000


def a_commit(timer_id: str, expected: int, *, account_id: str = "acct_1",
             deadline: int | None = None, events: int = 1, deliveries: int = 0,
             created: int = T0, delete: bool = False) -> Commit:
    version = expected + 1
    body = orjson.dumps({"id": timer_id, "v": version})
    return Commit(
        id=ids.new_id("cmt_"), timer_id=timer_id, account_id=account_id,
        expected_version=expected, version=version,
        timer=None if delete else body, created_at_ms=created, deadline_ms=deadline,
        events=[EventRecord(ids.event_id(), account_id, timer_id,
                            orjson.dumps({"timer_id": timer_id, "v": version, "n": n}))
                for n in range(events)],
        deliveries=[DeliveryRecord(ids.delivery_id(timer_id), account_id, timer_id, "evt_x",
                                   "https://example.com/hook", b"{}", T0)
                    for _ in range(deliveries)],
        message=orjson.dumps({"v": version}))


def a_rundown_commit(rundown_id: str, expected: int, members: list[str], *,
                     delete: bool = False, deliveries: int = 0) -> Commit:
    plain = a_commit(rundown_id, expected, delete=delete, deliveries=deliveries)
    return replace(plain, collection=RUNDOWNS, members=members)


async def an_account(engine) -> Account:
    """A new account at home 0, where the short ids these tests make by hand (`tmr_a`) live
    too (`ids.home_of`): as for minted ids, an account's timers are in its shard, so on a
    cluster one commit's keys share a slot."""
    account = Account(ids.owned_id("acct_", "tmr_0"), f"a-{ids.new_id('')}", "pro", T0,
                      ids.webhook_secret())
    await engine.add_account(account)
    return account
