"""The SQLite engine maps rows by column name: a store whose tables have their columns in
another order than the records' fields (as ALTER TABLE leaves them: new columns go last) reads
and writes every value into its own field."""

from __future__ import annotations

import sqlite3

import pytest

from server import accounts
from server.engines.base import Attempt, DeliveryRecord, Outcome
from tests.conftest import opened

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000
#: The same tables, columns in a different order from the records' fields.
SHUFFLED = """
CREATE TABLE accounts (
    webhook_secret TEXT NOT NULL, previous_secret_expires_ms INTEGER, plan TEXT NOT NULL,
    id TEXT PRIMARY KEY, previous_webhook_secret TEXT, created_at_ms INTEGER NOT NULL,
    name TEXT NOT NULL UNIQUE);
CREATE TABLE api_keys (
    last_used_ms INTEGER, key_hash TEXT NOT NULL UNIQUE, revoked_at_ms INTEGER,
    prefix TEXT NOT NULL, created_at_ms INTEGER NOT NULL, account_id TEXT NOT NULL,
    id TEXT PRIMARY KEY);
CREATE TABLE delivery_attempts (
    error TEXT, response TEXT NOT NULL, status_code INTEGER, delivery_id TEXT NOT NULL,
    duration_ms INTEGER NOT NULL, at_ms INTEGER NOT NULL, number INTEGER NOT NULL);
"""


async def test_records_keep_their_values_whatever_the_column_order(tmp_path):
    path = tmp_path / "shuffled.db"
    db = sqlite3.connect(path)
    db.executescript(SHUFFLED)
    db.close()
    async with opened(f"sqlite:///{path}") as engine:
        account, key = await accounts.key_for(engine, "shop", "pro", T0)
        assert await engine.get_account(account.id) == account
        assert (await engine.find_account("shop")) == account
        [stored] = await engine.list_api_keys(account.id)
        assert (stored.account_id, stored.created_at_ms, stored.revoked_at_ms) == (
            account.id, T0, None)
        assert key.startswith(stored.prefix)
        assert await engine.find_api_key(stored.key_hash) == stored

        await engine.add_deliveries([DeliveryRecord(
            "dlv_1", account.id, "tmr_1", "evt_1", "https://example.com/h", b"{}", T0)], T0)
        [claimed] = await engine.claim_deliveries(T0, 10, 30_000)
        assert claimed.account == account
        attempt = Attempt(1, T0 + 5, 12, 503, "busy", "HTTP 503")
        await engine.finish_deliveries([Outcome("dlv_1", claimed.claim, attempt, "pending",
                                                T0 + 60_000)])
        delivery, attempts = await engine.get_delivery("dlv_1")
        assert attempts == [attempt]
        assert (delivery.url, delivery.body, delivery.attempts) == (
            "https://example.com/h", b"{}", 1)
