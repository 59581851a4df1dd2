"""What every engine promises as a `Store` (server/engines/base.py): accounts, API keys and
the way in, timers, rundowns, deadlines, the event log and the commit. Run against each
engine."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import orjson
import pytest

from server import accounts, commit, ids, timers
from server.engines.base import (
    Account,
    RateLimit,
    Store,
    VersionConflict,
    rundown_channel,
)
from tests.conftest import opened
from tests.engines.contract.records import T0, a_commit, a_rundown_commit, an_account
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def test_engine_satisfies_store(engine):
    assert isinstance(engine, Store)


async def test_commit_writes_the_timer_and_its_events_in_order(engine):
    await engine.commit(a_commit("tmr_1", 0, events=2))
    await engine.commit(a_commit("tmr_1", 1, events=1))
    assert orjson.loads(await engine.get_timer("tmr_1")) == {"id": "tmr_1", "v": 2}
    page, following = await engine.list_events("acct_1", None, 10)
    assert following is None
    assert [(orjson.loads(e.body)["v"], orjson.loads(e.body)["n"]) for e in page] == [
        (1, 0), (1, 1), (2, 0)]


async def test_a_stale_commit_writes_nothing_and_reports_the_stored_version(engine):
    await engine.commit(a_commit("tmr_1", 0, deadline=T0))
    with pytest.raises(VersionConflict) as caught:
        await engine.commit(a_commit("tmr_1", 0, deadline=T0 + 5, events=3))
    assert caught.value.current == 1
    assert orjson.loads(await engine.get_timer("tmr_1"))["v"] == 1
    assert await engine.due_timers(T0 + 10, 10) == [("tmr_1", T0)]
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 1


async def test_a_commit_sent_again_after_it_was_applied_succeeds_without_writing(engine):
    first = a_commit("tmr_1", 0, events=2, deadline=T0, deliveries=1)
    await engine.commit(first)
    await engine.commit(first)  # as after a reply lost on the way back
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 2
    second = a_commit("tmr_1", 1, delete=True)
    await engine.commit(second)
    await engine.commit(second)
    assert await engine.get_timer("tmr_1") is None
    with pytest.raises(VersionConflict):  # a different commit from a stale version still fails
        await engine.commit(a_commit("tmr_1", 1))
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 3


async def test_creating_a_timer_that_exists_is_a_conflict(engine):
    await engine.commit(a_commit("tmr_1", 0))
    with pytest.raises(VersionConflict):
        await engine.commit(a_commit("tmr_1", 0))


async def test_of_two_racing_commits_from_one_version_exactly_one_wins(engine):
    await engine.commit(a_commit("tmr_1", 0))
    results = await asyncio.gather(*(engine.commit(a_commit("tmr_1", 1)) for _ in range(8)),
                                   return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, VersionConflict) for r in results if r is not None)
    assert len((await engine.list_events("acct_1", None, 100))[0]) == 2


async def test_deadlines_are_set_moved_cleared_and_listed_earliest_first(engine):
    await engine.commit(a_commit("tmr_a", 0, deadline=T0 + 300))
    await engine.commit(a_commit("tmr_b", 0, deadline=T0 + 100))
    await engine.commit(a_commit("tmr_c", 0, deadline=T0 + 200))
    assert await engine.next_deadline() == T0 + 100
    assert await engine.due_timers(T0 + 250, 10) == [("tmr_b", T0 + 100), ("tmr_c", T0 + 200)]
    assert await engine.due_timers(T0 + 250, 1) == [("tmr_b", T0 + 100)]
    await engine.commit(a_commit("tmr_b", 1, deadline=None))
    await engine.commit(a_commit("tmr_c", 1, deadline=T0 + 900))
    assert await engine.due_timers(T0 + 500, 10) == [("tmr_a", T0 + 300)]
    assert await engine.next_deadline() == T0 + 300


async def test_deleting_removes_timer_and_deadline_but_keeps_the_log(engine):
    await engine.commit(a_commit("tmr_1", 0, deadline=T0))
    await engine.commit(a_commit("tmr_1", 1, delete=True))
    assert await engine.get_timer("tmr_1") is None
    assert await engine.next_deadline() is None
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 2
    with pytest.raises(VersionConflict) as caught:
        await engine.commit(a_commit("tmr_1", 2))
    assert caught.value.current == 0


async def test_timers_list_in_creation_order_in_pages(engine):
    made = []
    for n in range(7):
        timer_id = ids.timer_id("acct_1")
        made.append(timer_id)
        await engine.commit(a_commit(timer_id, 0, created=T0 + n // 2))  # ties on purpose
    await engine.commit(a_commit("tmr_other", 0, account_id="acct_2"))
    expected = sorted(made, key=lambda t: (T0 + made.index(t) // 2, t))
    seen, cursor = [], None
    while True:
        page, cursor = await engine.list_timers("acct_1", cursor, 3)
        seen += [orjson.loads(raw)["id"] for raw in page]
        if cursor is None:
            break
    assert seen == expected


async def test_events_page_by_cursor_and_filter_by_timer(engine):
    for n in range(5):
        await engine.commit(a_commit("tmr_a" if n % 2 else "tmr_b", n // 2))
    first, cursor = await engine.list_events("acct_1", None, 2)
    rest, end = await engine.list_events("acct_1", cursor, 10)
    assert end is None and len(first) + len(rest) == 5
    only_a, _ = await engine.list_events("acct_1", None, 10, timer_id="tmr_a")
    assert [e.timer_id for e in only_a] == ["tmr_a", "tmr_a"]
    # Timer ids are public (widget URLs); another account's filter by them finds nothing.
    assert await engine.list_events("acct_2", None, 10, timer_id="tmr_a") == ([], None)
    with pytest.raises(ValueError, match="cursor"):
        await engine.list_events("acct_1", "not-a-cursor", 10)


async def test_accounts_and_keys_are_stored_hashed_and_revocable(engine):
    account, key = await accounts.key_for(engine, "acme", "pro", T0)
    assert (await engine.find_account("acme")) == account
    stored = await engine.find_api_key(accounts.hash_key(key))
    assert stored is not None and stored.account_id == account.id
    assert key not in repr(await engine.list_api_keys())
    assert stored.prefix == key[:16]
    with pytest.raises(ValueError, match="exists already"):
        await engine.add_account(Account("acct_dup", "acme", "free", T0, "whsec_x"))
    assert await engine.revoke_api_key(stored.id, T0 + 1)
    assert not await engine.revoke_api_key(stored.id, T0 + 2)
    revoked = await engine.find_api_key(accounts.hash_key(key))
    assert revoked is not None and revoked.revoked_at_ms == T0 + 1


async def test_admit_checks_the_key_counts_the_request_and_reads_the_timer(engine):
    account, key = await accounts.key_for(engine, "acme", "free", T0)
    tid = ids.timer_id(account.id)  # the account's: on a cluster, in its slot
    stored = await engine.find_api_key(accounts.hash_key(key))
    await engine.commit(a_commit(tid, 0, account_id=account.id))
    plans = {"free": RateLimit(per_minute=30, per_day=1000)}
    first = await engine.admit(stored, T0, touch_after_ms=60_000, plans=plans,
                               timer_id=tid)
    assert first.revoked_at_ms is None and first.account == account
    assert first.rate is not None and first.rate.allowed and first.rate.remaining == 29
    assert first.timer == await engine.get_timer(tid)
    assert (await engine.find_api_key(stored.key_hash)).last_used_ms == T0
    # Not counted without plans; the last use is kept to the minute; a missing timer is None.
    second = await engine.admit(stored, T0 + 1000, touch_after_ms=60_000, timer_id="tmr_x")
    assert second.rate is None and second.timer is None and second.account == account
    assert (await engine.find_api_key(stored.key_hash)).last_used_ms == T0
    third = await engine.admit(stored, T0 + 60_000, touch_after_ms=60_000, plans=plans)
    assert third.rate.remaining == 29  # a minute on, the budget is whole again
    assert third.timer is None
    assert (await engine.find_api_key(stored.key_hash)).last_used_ms == T0 + 60_000


async def test_admit_refuses_a_revoked_key_without_counting_it(engine):
    account, key = await accounts.key_for(engine, "acme", "free", T0)
    stored = await engine.find_api_key(accounts.hash_key(key))
    assert await engine.revoke_api_key(stored.id, T0 + 5)
    plans = {"free": RateLimit(per_minute=30, per_day=1000)}
    refused = await engine.admit(stored, T0 + 10, touch_after_ms=60_000, plans=plans)
    assert refused.revoked_at_ms == T0 + 5 and refused.account is None and refused.rate is None
    assert (await engine.find_api_key(stored.key_hash)).last_used_ms is None
    status = await engine.hit_rate_limit(account.id, plans["free"], T0 + 10)
    assert status.used_today == 1


async def test_admit_commit_lets_the_request_in_and_commits_in_one_step(engine):
    account, key = await accounts.key_for(engine, "acme", "free", T0)
    tid = ids.timer_id(account.id)  # the account's: on a cluster, in its slot
    stored = await engine.find_api_key(accounts.hash_key(key))
    await engine.commit(a_commit(tid, 0, account_id=account.id))
    await engine.set_presence(tid, "proc_a", 3, T0 + 30_000)
    plans = {"free": RateLimit(per_minute=30, per_day=1000)}
    done = await engine.admit_commit(stored, T0, a_commit(tid, 1, account_id=account.id),
                                     touch_after_ms=60_000, plans=plans)
    assert done.committed
    assert done.admission.account == account and done.admission.revoked_at_ms is None
    assert done.admission.rate.allowed and done.admission.rate.remaining == 29
    assert orjson.loads(done.admission.timer) == {"id": tid, "v": 2}
    assert done.admission.viewers == 3
    assert orjson.loads(await engine.get_timer(tid)) == {"id": tid, "v": 2}
    assert (await engine.find_api_key(stored.key_hash)).last_used_ms == T0
    # A stale commit: counted (the request was let in), nothing written, the stored body back.
    stale = await engine.admit_commit(stored, T0 + 1, a_commit(tid, 1, account_id=account.id,
                                                               events=3),
                                      touch_after_ms=60_000, plans=plans)
    assert not stale.committed and stale.admission.rate.remaining == 28
    assert orjson.loads(stale.admission.timer) == {"id": tid, "v": 2}
    assert len((await engine.list_events(account.id, None, 10))[0]) == 2


async def test_admit_commit_writes_nothing_for_a_refused_request(engine):
    account, key = await accounts.key_for(engine, "acme", "free", T0)
    tid = ids.timer_id(account.id)  # the account's: on a cluster, in its slot
    stored = await engine.find_api_key(accounts.hash_key(key))
    await engine.commit(a_commit(tid, 0, account_id=account.id))
    plans = {"free": RateLimit(per_minute=2, per_day=1000)}
    for n in range(2):
        assert (await engine.admit_commit(
            stored, T0, a_commit(tid, 1 + n, account_id=account.id),
            touch_after_ms=60_000, plans=plans)).committed
    over = await engine.admit_commit(stored, T0, a_commit(tid, 3, account_id=account.id),
                                     touch_after_ms=60_000, plans=plans)
    assert not over.committed and over.admission.rate is not None
    assert not over.admission.rate.allowed and over.admission.rate.retry_after_s >= 1
    assert await engine.revoke_api_key(stored.id, T0 + 5)
    revoked = await engine.admit_commit(stored, T0 + 60_000,
                                        a_commit(tid, 3, account_id=account.id),
                                        touch_after_ms=60_000, plans=plans)
    assert not revoked.committed and revoked.admission.revoked_at_ms == T0 + 5
    assert revoked.admission.account is None and revoked.admission.rate is None
    assert orjson.loads(await engine.get_timer(tid))["v"] == 3
    assert len((await engine.list_events(account.id, None, 10))[0]) == 3
    # Neither refusal counted (a minute on, the budget is whole again: two more get in).
    assert (await engine.hit_rate_limit(account.id, plans["free"], T0 + 60_000)).remaining == 1


async def test_admit_control_lets_in_the_timers_token_as_its_owner_and_nothing_else(engine):
    owner, _ = await accounts.key_for(engine, "acme", "free", T0)
    timer = await commit.create(engine, owner.id, {"type": "countdown", "duration": 60},
                                clock=lambda: T0)
    other = await commit.create(engine, owner.id, {"type": "countdown", "duration": 60},
                                clock=lambda: T0)
    await engine.set_presence(timer.id, "proc_a", 2, T0 + 30_000)
    plans = {"free": RateLimit(per_minute=30, per_day=1000)}
    admitted = await engine.admit_control(timer.control_token, T0, plans=plans,
                                          timer_id=timer.id)
    assert admitted.account == owner and admitted.revoked_at_ms is None
    assert admitted.rate is not None and admitted.rate.allowed
    assert admitted.rate.remaining == 29 and admitted.rate.used_today == 1
    assert admitted.timer == await engine.get_timer(timer.id) and admitted.viewers == 2
    # Another timer's token, a token of the same length that is not it, no such timer: no
    # account, and nothing counted against the owner's budget.
    near = timer.control_token[:-1] + ("a" if timer.control_token[-1] != "a" else "b")
    for token, timer_id in ((other.control_token, timer.id), (near, timer.id),
                            (timer.control_token, other.id), (timer.control_token, "tmr_x"),
                            ("ctl_", timer.id)):
        refused = await engine.admit_control(token, T0 + 1, plans=plans, timer_id=timer_id)
        assert (refused.account, refused.rate, refused.timer) == (None, None, None)
    assert (await engine.hit_rate_limit(owner.id, plans["free"], T0 + 2)).used_today == 2


async def test_accounts_are_listed_and_change_plan(engine):
    for n, name in enumerate(("first", "second")):
        await engine.add_account(Account(f"acct_{name}", name, "free", T0 + n, "whsec_x"))
    assert [a.name for a in await engine.list_accounts()] == ["first", "second"]
    rotated = await engine.rotate_webhook_secret("acct_second", "whsec_new", T0, 1000)
    changed = await engine.set_plan("acct_second", "pro")
    assert changed is not None and (changed.plan, changed.webhook_secret) == ("pro", "whsec_new")
    assert changed.previous_webhook_secret == rotated.previous_webhook_secret == "whsec_x"
    assert (await engine.get_account("acct_second")).plan == "pro"
    assert (await engine.get_account("acct_first")).plan == "free"
    assert await engine.set_plan("acct_missing", "pro") is None


async def test_rotating_the_secret_keeps_the_old_one_for_the_overlap(engine):
    account = await an_account(engine)
    rotated = await engine.rotate_webhook_secret(account.id, "whsec_new", T0, 86_400_000)
    assert (rotated.webhook_secret, rotated.previous_webhook_secret,
            rotated.previous_secret_expires_ms) == ("whsec_new", account.webhook_secret,
                                                    T0 + 86_400_000)
    assert await engine.get_account(account.id) == rotated
    # An account logged or in a traceback shows neither secret.
    assert "whsec_" not in repr(rotated)
    assert await engine.rotate_webhook_secret("acct_none", "whsec_x", T0, 1) is None


async def test_the_commit_path_round_trips_a_real_timer(engine):
    timer = await commit.create(engine, "acct_1", {"type": "countdown", "duration": 5},
                                clock=lambda: T0)
    started = await commit.command(engine, "acct_1", timer.id, "start", clock=lambda: T0 + 10)
    assert timers.load(await engine.get_timer(timer.id)) == started
    assert await engine.due_timers(T0 + 5010, 10) == [(timer.id, T0 + 5010)]
    with pytest.raises(commit.TimerNotFound):
        await commit.command(engine, "acct_other", timer.id, "pause")


async def test_a_redis_that_lost_its_scripts_gets_them_again(redis_server):
    """The Redis engine's own: its Lua scripts, gone after a Redis restart, load again."""
    redis_server.flush()
    async with opened(redis_server.url) as engine:
        account, key = await accounts.key_for(engine, "acme", "free", T0)
        stored = await engine.find_api_key(accounts.hash_key(key))
        tid = ids.timer_id(account.id)
        await engine.commit(a_commit(tid, 0, account_id=account.id))
        assert redis_server.command("SCRIPT", "FLUSH").startswith(b"+OK")
        # As a restarted Redis: no script loaded.
        await engine.commit(a_commit(tid, 1, account_id=account.id))
        assert redis_server.command("SCRIPT", "FLUSH").startswith(b"+OK")
        admitted = await engine.admit(stored, T0, touch_after_ms=60_000, timer_id=tid)
        assert admitted.timer == await engine.get_timer(tid)


async def test_linked_commits_are_written_together(engine):
    await engine.commit(a_commit("tmr_1", 0))
    await engine.commit(a_commit("tmr_2", 0))
    seen: list[bytes] = []
    await engine.subscribe(rundown_channel("rnd_1"), seen.append)
    group = replace(a_rundown_commit("rnd_1", 0, ["tmr_1", "tmr_2"], deliveries=1),
                    linked=[a_commit("tmr_1", 1, deadline=T0), a_commit("tmr_2", 1)])
    await engine.commit(group)
    assert orjson.loads(await engine.get_rundown("rnd_1"))["v"] == 1
    assert orjson.loads(await engine.get_timer("tmr_1"))["v"] == 2
    assert orjson.loads(await engine.get_timer("tmr_2"))["v"] == 2
    assert await engine.due_timers(T0, 10) == [("tmr_1", T0)]
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 5
    assert len((await engine.list_events("acct_1", None, 10, timer_id="rnd_1"))[0]) == 1
    await until(lambda: seen)
    assert seen == [orjson.dumps({"v": 1})]
    await engine.commit(group)  # sent again after a lost reply: applied once
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 5


async def test_one_stale_linked_commit_writes_nothing_of_the_group(engine):
    await engine.commit(a_commit("tmr_1", 0))
    await engine.commit(a_commit("tmr_2", 0))
    await engine.commit(a_commit("tmr_2", 1))
    with pytest.raises(VersionConflict) as caught:
        await engine.commit(replace(a_rundown_commit("rnd_1", 0, ["tmr_1"]),
                                    linked=[a_commit("tmr_1", 1, deadline=T0),
                                            a_commit("tmr_2", 1, deliveries=1)]))
    assert (caught.value.current, caught.value.object_id) == (2, "tmr_2")
    assert await engine.get_rundown("rnd_1") is None
    assert orjson.loads(await engine.get_timer("tmr_1"))["v"] == 1
    assert await engine.due_timers(T0, 10) == []
    assert len((await engine.list_events("acct_1", None, 10))[0]) == 3
    assert await engine.rundowns_of("tmr_1") == []


async def test_rundowns_are_listed_apart_from_timers_and_index_their_timers(engine):
    await engine.commit(a_commit("tmr_1", 0))
    await engine.commit(a_rundown_commit("rnd_1", 0, ["tmr_1", "tmr_2"]))
    await engine.commit(replace(a_rundown_commit("rnd_2", 0, ["tmr_2"]), created_at_ms=T0 + 1))
    assert [orjson.loads(b)["id"] for b in (await engine.list_timers("acct_1", None, 10))[0]] \
        == ["tmr_1"]
    page, following = await engine.list_rundowns("acct_1", None, 1)
    assert [orjson.loads(b)["id"] for b in page] == ["rnd_1"]
    page, following = await engine.list_rundowns("acct_1", following, 1)
    assert [orjson.loads(b)["id"] for b in page] == ["rnd_2"] and following is None
    assert await engine.get_timer("rnd_1") is None and await engine.get_rundown("tmr_1") is None
    assert sorted(await engine.rundowns_of("tmr_2")) == ["rnd_1", "rnd_2"]
    await engine.commit(a_rundown_commit("rnd_1", 1, ["tmr_1"]))
    assert await engine.rundowns_of("tmr_2") == ["rnd_2"]
    assert await engine.rundowns_of("tmr_1") == ["rnd_1"]
    await engine.commit(a_rundown_commit("rnd_2", 1, [], delete=True))
    assert await engine.rundowns_of("tmr_2") == []
    assert await engine.get_rundown("rnd_2") is None
    assert len((await engine.list_rundowns("acct_1", None, 10))[0]) == 1


async def test_a_group_that_names_an_object_twice_is_refused_whole(engine):
    await engine.commit(a_commit("tmr_1", 0))
    with pytest.raises(ValueError, match="more than once"):
        await engine.commit(replace(a_rundown_commit("rnd_1", 0, ["tmr_1"]),
                                    linked=[a_commit("tmr_1", 1), a_commit("tmr_1", 1)]))
    assert orjson.loads(await engine.get_timer("tmr_1"))["v"] == 1
    assert await engine.get_rundown("rnd_1") is None
