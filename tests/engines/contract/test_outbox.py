"""What every engine promises as the webhook `Outbox` (server/engines/base.py): claims, leases,
attempts, order, retry, the delivery log and its depth. Run against each engine."""

from __future__ import annotations

import orjson
import pytest

from server import ids
from server.engines.base import (
    CANCELLED,
    FAILED,
    OUTBOX_CHANNEL,
    PENDING,
    SUCCEEDED,
    Attempt,
    ClaimedDelivery,
    DeliveryRecord,
    Outbox,
    Outcome,
)
from tests.engines.contract.records import T0, a_commit, an_account
from tests.waiting import until

pytestmark = pytest.mark.anyio

LEASE = 30_000


def a_delivery(account_id: str, timer_id: str, n: int = 0, due: int = T0,
               url: str = "https://example.com/hook") -> DeliveryRecord:
    return DeliveryRecord(ids.delivery_id(timer_id), account_id, timer_id, f"evt_{n}", url,
                          orjson.dumps({"event": "timer.started", "n": n}), due)


def outcome(c: ClaimedDelivery, status: str, due: int | None = None, at: int = T0,
            code: int | None = 500, gone: bool = False) -> Outcome:
    return Outcome(c.delivery.id, c.claim, Attempt(c.delivery.attempts + 1, at, 12, code,
                                                   "nope", "HTTP 500"), status, due, gone)


def numbers(claimed: list[ClaimedDelivery]) -> list[int]:
    return [orjson.loads(c.delivery.body)["n"] for c in claimed]


async def test_engine_satisfies_outbox(engine):
    assert isinstance(engine, Outbox)


async def test_claim_takes_due_deliveries_with_their_account_and_leases_them(engine):
    account = await an_account(engine)
    await engine.add_deliveries([a_delivery(account.id, "tmr_a"),
                                 a_delivery(account.id, "tmr_b", due=T0 + 5000)], T0)
    claimed = await engine.claim_deliveries(T0, 10, LEASE)
    assert [c.delivery.timer_id for c in claimed] == ["tmr_a"]
    assert claimed[0].account == account
    assert claimed[0].delivery.status == PENDING
    # Leased: nobody else gets it until the lease runs out, then it is due again.
    assert await engine.claim_deliveries(T0 + 5000, 10, LEASE) != []  # tmr_b only
    assert await engine.claim_deliveries(T0 + 6000, 10, LEASE) == []
    assert await engine.next_delivery_ms() == T0 + LEASE
    again = await engine.claim_deliveries(T0 + LEASE, 10, LEASE)
    assert [c.delivery.id for c in again] == [claimed[0].delivery.id]
    assert again[0].claim != claimed[0].claim


async def test_one_delivery_per_timer_at_a_time_in_the_order_written(engine):
    account = await an_account(engine)
    # One commit writes several equally due deliveries: they leave in the order written.
    await engine.commit(a_commit("tmr_a", 0, account_id=account.id, deliveries=0))
    await engine.add_deliveries([a_delivery(account.id, "tmr_a", n) for n in range(6)], T0)
    seen = []
    for step in range(6):
        claimed = await engine.claim_deliveries(T0 + step, 10, LEASE)
        assert len(claimed) == 1, "a timer has at most one delivery in flight"
        assert await engine.claim_deliveries(T0 + step, 10, LEASE) == []
        seen += numbers(claimed)
        await engine.finish_deliveries([outcome(claimed[0], SUCCEEDED, code=200)])
    assert seen == [0, 1, 2, 3, 4, 5]


async def test_claims_spread_over_timers_and_respect_the_limit(engine):
    account = await an_account(engine)
    await engine.add_deliveries([a_delivery(account.id, f"tmr_{n}", n) for n in range(5)], T0)
    first = await engine.claim_deliveries(T0, 3, LEASE)
    rest = await engine.claim_deliveries(T0, 3, LEASE)
    assert numbers(first) == [0, 1, 2] and numbers(rest) == [3, 4]


async def test_finish_records_attempts_and_schedules_the_next(engine):
    account = await an_account(engine)
    record = a_delivery(account.id, "tmr_a")
    await engine.add_deliveries([record], T0)
    [c] = await engine.claim_deliveries(T0, 10, LEASE)
    await engine.finish_deliveries([outcome(c, PENDING, due=T0 + 60_000)])
    delivery, attempts = await engine.get_delivery(record.id)
    assert (delivery.status, delivery.due_ms, delivery.attempts, delivery.run_attempts) == (
        PENDING, T0 + 60_000, 1, 1)
    assert attempts == [Attempt(1, T0, 12, 500, "nope", "HTTP 500")]
    assert await engine.claim_deliveries(T0 + 59_999, 10, LEASE) == []
    [c] = await engine.claim_deliveries(T0 + 60_000, 10, LEASE)
    await engine.finish_deliveries([outcome(c, FAILED, at=T0 + 60_000)])
    delivery, attempts = await engine.get_delivery(record.id)
    assert (delivery.status, delivery.attempts) == (FAILED, 2)
    assert [a.number for a in attempts] == [1, 2]
    assert await engine.next_delivery_ms() is None


async def test_a_late_failure_does_not_undo_a_takeover_but_a_success_is_final(engine):
    account = await an_account(engine)
    record = a_delivery(account.id, "tmr_a")
    await engine.add_deliveries([record], T0)
    [stale] = await engine.claim_deliveries(T0, 10, LEASE)
    [fresh] = await engine.claim_deliveries(T0 + LEASE, 10, LEASE)  # the first holder died
    await engine.finish_deliveries([outcome(stale, FAILED)])
    delivery, _ = await engine.get_delivery(record.id)
    assert delivery.status == PENDING  # the takeover's attempt decides
    await engine.finish_deliveries([outcome(fresh, SUCCEEDED, code=200)])
    await engine.finish_deliveries([outcome(stale, SUCCEEDED, code=200)])
    delivery, attempts = await engine.get_delivery(record.id)
    assert delivery.status == SUCCEEDED and len(attempts) == 3


async def test_gone_cancels_the_timers_other_pending_deliveries_to_that_url(engine):
    account = await an_account(engine)
    gone, later = a_delivery(account.id, "tmr_a", 0), a_delivery(account.id, "tmr_a", 1)
    elsewhere = a_delivery(account.id, "tmr_a", 2, url="https://example.org/other")
    other_timer = a_delivery(account.id, "tmr_b", 3)
    await engine.add_deliveries([gone, later, elsewhere, other_timer], T0)
    claimed = await engine.claim_deliveries(T0, 10, LEASE)
    first = next(c for c in claimed if c.delivery.id == gone.id)
    await engine.finish_deliveries([outcome(first, CANCELLED, code=410, gone=True)])
    statuses = {r.id: (await engine.get_delivery(r.id))[0].status
                for r in (gone, later, elsewhere, other_timer)}
    assert statuses == {gone.id: CANCELLED, later.id: CANCELLED, elsewhere.id: PENDING,
                        other_timer.id: PENDING}
    assert numbers(await engine.claim_deliveries(T0 + 1, 10, LEASE)) == [2]


async def test_retry_starts_a_finished_delivery_again_and_leaves_a_pending_one(engine):
    account = await an_account(engine)
    record = a_delivery(account.id, "tmr_a")
    await engine.add_deliveries([record], T0)
    assert (await engine.retry_delivery(record.id, T0)).status == PENDING
    [c] = await engine.claim_deliveries(T0, 10, LEASE)
    await engine.finish_deliveries([outcome(c, FAILED)])
    woken = []
    await engine.subscribe(OUTBOX_CHANNEL, woken.append)
    retried = await engine.retry_delivery(record.id, T0 + 9000)
    assert (retried.status, retried.due_ms, retried.run_attempts, retried.attempts) == (
        PENDING, T0 + 9000, 0, 1)
    await until(lambda: woken)
    assert woken
    assert [x.delivery.id for x in await engine.claim_deliveries(T0 + 9000, 10, LEASE)] == [
        record.id]
    assert await engine.retry_delivery("dlv_nothing", T0) is None


async def test_commit_writes_deliveries_that_list_newest_first_in_pages(engine):
    account = await an_account(engine)
    await engine.commit(a_commit("tmr_a", 0, account_id=account.id, deliveries=3))
    await engine.add_deliveries([a_delivery(account.id, "tmr_a", 9)], T0)
    page, following = await engine.list_deliveries(account.id, "tmr_a", None, 2)
    assert orjson.loads(page[0].body)["n"] == 9 and following is not None
    rest, end = await engine.list_deliveries(account.id, "tmr_a", following, 10)
    assert len(rest) == 2 and end is None
    assert len({d.id for d in page + rest}) == 4
    assert (await engine.list_deliveries("acct_other", "tmr_a", None, 10)) == ([], None)
    assert all(d.status == PENDING and d.created_at_ms == T0 for d in page + rest)


async def test_a_timer_with_a_long_queue_does_not_hold_back_other_timers(engine):
    account = await an_account(engine)
    await engine.add_deliveries([a_delivery(account.id, "tmr_noisy", n) for n in range(1000)],
                                T0)
    await engine.add_deliveries([a_delivery(account.id, "tmr_victim", 5000)], T0 + 1)
    assert numbers(await engine.claim_deliveries(T0 + 10, 1, LEASE)) == [0]
    # The noisy timer's head is in flight and 999 wait behind it: the victim still goes.
    assert numbers(await engine.claim_deliveries(T0 + 10, 1, LEASE)) == [5000]


async def test_after_a_lease_runs_out_the_timers_order_holds(engine):
    account = await an_account(engine)
    await engine.add_deliveries([a_delivery(account.id, "tmr_a", n) for n in range(3)], T0)
    [first] = await engine.claim_deliveries(T0, 10, LEASE)  # its dispatcher dies
    assert numbers([first]) == [0]
    assert await engine.claim_deliveries(T0 + LEASE - 1, 10, LEASE) == []
    [again] = await engine.claim_deliveries(T0 + LEASE, 10, LEASE)
    assert numbers([again]) == [0]
    await engine.finish_deliveries([outcome(again, SUCCEEDED, code=200)])
    assert numbers(await engine.claim_deliveries(T0 + LEASE, 10, LEASE)) == [1]


async def test_a_retried_delivery_waits_for_the_one_in_flight(engine):
    account = await an_account(engine)
    await engine.add_deliveries([a_delivery(account.id, "tmr_a", n) for n in range(2)], T0)
    [d0] = await engine.claim_deliveries(T0, 10, LEASE)
    await engine.finish_deliveries([outcome(d0, FAILED)])
    [d1] = await engine.claim_deliveries(T0, 10, LEASE)
    await engine.retry_delivery(d0.delivery.id, T0 + 1)
    assert await engine.claim_deliveries(T0 + 2, 10, LEASE) == []  # d1 is in flight
    await engine.finish_deliveries([outcome(d1, SUCCEEDED, code=200)])
    assert numbers(await engine.claim_deliveries(T0 + 3, 10, LEASE)) == [0]


async def test_outbox_depth_counts_each_timer_once_and_the_due_ones(engine):
    account = await an_account(engine)
    assert await engine.outbox_depth(T0) == (0, 0)
    await engine.add_deliveries([a_delivery(account.id, "tmr_a", 0),
                                 a_delivery(account.id, "tmr_a", 1),  # queued behind the first
                                 a_delivery(account.id, "tmr_b", 2),
                                 a_delivery(account.id, "tmr_c", 3, due=T0 + 5000)], T0)
    assert await engine.outbox_depth(T0) == (3, 2)
    first, second = await engine.claim_deliveries(T0, 2, LEASE)  # in flight: not due
    assert (first.delivery.timer_id, second.delivery.timer_id) == ("tmr_a", "tmr_b")
    assert await engine.outbox_depth(T0) == (3, 0)
    assert await engine.outbox_depth(T0 + 5000) == (3, 1)
    await engine.finish_deliveries([outcome(first, SUCCEEDED, code=200)])
    assert await engine.outbox_depth(T0) == (3, 1)  # tmr_a's second one is next, and due
    await engine.finish_deliveries([outcome(second, SUCCEEDED, code=200)])
    assert await engine.outbox_depth(T0) == (2, 1)
