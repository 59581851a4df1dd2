// @ts-check
// The event log, webhook deliveries, the account and its keys against a real server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthenticationError, Castimer } from "../dist/index.js";
import { baseUrl, client, env, eventually, recordingFetch } from "./support.js";

const castimer = client();

test("the event log lists a timer's events in order, page by page", async () => {
  const timer = await castimer.timers.create({ duration: 300 });
  await castimer.timers.start(timer.id);
  await castimer.timers.pause(timer.id);
  await castimer.timers.resume(timer.id);
  const { fetch, seen } = recordingFetch();
  const names = [];
  for await (const event of client({ fetch }).events.list({ timer_id: timer.id, limit: 1 })) {
    assert.ok("timer_id" in event && event.timer_id === timer.id, event.event);
    assert.match(event.id, /^evt_/);
    names.push(event.event);
  }
  assert.deepEqual(names, ["timer.started", "timer.paused", "timer.resumed"]);
  assert.ok(seen.length >= 3, "one event a page");
});

test("a test webhook is delivered, logged with its attempt, and retried", async () => {
  const timer = await castimer.timers.create({ duration: 60, webhook_url: env("CASTIMER_HOOK_URL") });
  const sent = await castimer.timers.testWebhook(timer.id);
  assert.match(sent.id, /^dlv_/);
  assert.deepEqual([sent.event, sent.status, sent.timer_id], ["webhook.test", "pending", timer.id]);
  const listed = [];
  for await (const delivery of castimer.deliveries.list(timer.id)) listed.push(delivery.id);
  assert.deepEqual(listed, [sent.id]);

  const detail = await eventually(async () => {
    const found = await castimer.deliveries.get(sent.id);
    return found.status === "succeeded" ? found : null;
  }, "the delivery to succeed");
  assert.equal(detail.payload.event, "webhook.test");
  assert.equal(detail.attempts.length, 1);
  assert.equal(detail.attempts[0]?.status_code, 200);

  const again = await castimer.deliveries.retry(sent.id);
  assert.deepEqual([again.id, again.status], [sent.id, "pending"]);
});

test("the account shows its plan, limits and signing secret, and rotates the secret", async () => {
  const account = await castimer.account.get();
  assert.match(account.id, /^acct_/);
  assert.equal(account.plan, "enterprise");
  assert.equal(account.limits.requests_per_minute, 600);
  assert.ok(account.usage.requests_today > 0);
  assert.match(account.webhook_secret, /^whsec_/);
  const rotated = await castimer.account.rotateWebhookSecret();
  assert.match(rotated.webhook_secret, /^whsec_/);
  assert.notEqual(rotated.webhook_secret, account.webhook_secret);
  assert.ok(rotated.previous_webhook_secret_expires_at, "the old secret signs on for a while");
});

test("keys: list them, make one that works, revoke it and it stops working", async () => {
  const made = await castimer.keys.create();
  assert.match(made.key, /^ck_live_/);
  assert.ok(made.key.startsWith(made.prefix));
  const other = new Castimer({ apiKey: made.key, baseUrl: baseUrl() });
  assert.equal((await other.account.get()).id, (await castimer.account.get()).id);
  const listed = [];
  for await (const key of castimer.keys.list()) listed.push(key);
  assert.ok(listed.some((key) => key.id === made.id && !key.current));
  assert.ok(listed.some((key) => key.current));
  const revoked = await castimer.keys.revoke(made.id);
  assert.ok(revoked.revoked_at);
  const refused = await other.account.get().catch((error) => error);
  assert.ok(refused instanceof AuthenticationError, String(refused));
});
