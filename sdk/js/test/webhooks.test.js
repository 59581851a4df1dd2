// @ts-check
// verifyWebhook on a real delivery: tests/sdk/test_js_client.py captured one at a real
// receiver (the body's bytes as they arrived, every header) and wrote it, with the account's
// secret, to CASTIMER_WEBHOOK_FILE.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { verifyWebhook, WebhookVerificationError } from "../dist/index.js";
import { env } from "./support.js";

/** @type {{body_base64: string, headers: Record<string, string>, secret: string}} */
const captured = JSON.parse(readFileSync(env("CASTIMER_WEBHOOK_FILE"), "utf8"));
const body = Buffer.from(captured.body_base64, "base64");
const { headers, secret } = captured;
const sentAt = Number(headers["webhook-timestamp"]) * 1000;
/** Only the X-Castimer headers, as a receiver behind a proxy that dropped the others. */
const castimerOnly = Object.fromEntries(
  Object.entries(headers).filter(([name]) => !name.startsWith("webhook-")));

/** @param {Promise<unknown>} verifying */
async function refused(verifying) {
  const error = await verifying.then(() => null, (e) => e);
  assert.ok(error instanceof WebhookVerificationError, `accepted, or ${error}`);
  return error;
}

test("a real delivery verifies and gives its event", async () => {
  const event = await verifyWebhook(body, headers, secret);
  assert.equal(event.event, "webhook.test");
  assert.equal(event.id, JSON.parse(body.toString("utf8")).id);
  assert.match(event.timer_id, /^tmr_/);
  assert.equal(event.title, "Café ☕ launch");
  assert.match(event.signature, /^sha256=/);
});

test("the body as a string, the headers as fetch's Headers: verifies the same", async () => {
  const event = await verifyWebhook(body.toString("utf8"), new Headers(headers), secret);
  assert.equal(event.event, "webhook.test");
  const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
  assert.equal((await verifyWebhook(new Uint8Array(body).buffer, upper, secret)).event,
               "webhook.test");
});

const legacy = { allowLegacySignature: true };

test("X-Castimer-Signature alone verifies only when asked for", async () => {
  assert.equal((await verifyWebhook(body, castimerOnly, secret, legacy)).event, "webhook.test");
  // Stripped of its timestamped headers, a year-old capture is not let in by default.
  const error = await refused(verifyWebhook(body, castimerOnly, secret,
                                            { now: sentAt + 365 * 86_400_000 }));
  assert.match(error.message, /replay/);
});

test("a body changed by one byte is refused, under either signature", async () => {
  for (let at of [0, Math.floor(body.length / 2), body.length - 1]) {
    const changed = Buffer.from(body);
    changed[at] = /** @type {number} */ (changed[at]) ^ 1;
    await refused(verifyWebhook(changed, headers, secret));
    await refused(verifyWebhook(changed, castimerOnly, secret, legacy));
  }
});

test("a stale timestamp is refused; one within the tolerance is not", async () => {
  const error = await refused(verifyWebhook(body, headers, secret, { now: sentAt + 301_000 }));
  assert.match(error.message, /replay/);
  await refused(verifyWebhook(body, headers, secret, { now: sentAt - 301_000 }));
  await verifyWebhook(body, headers, secret, { now: sentAt + 299_000 });
  await refused(verifyWebhook(body, headers, secret, { now: sentAt + 11_000,
                                                       toleranceSeconds: 10 }));
});

test("a wrong secret is refused; a list holding the right one verifies", async () => {
  const wrong = "whsec_" + Buffer.from("not the account's secret").toString("base64");
  await refused(verifyWebhook(body, headers, wrong));
  await refused(verifyWebhook(body, castimerOnly, wrong, legacy));
  assert.equal((await verifyWebhook(body, headers, [wrong, secret])).event, "webhook.test");
});

test("no signature at all is refused", async () => {
  await refused(verifyWebhook(body, { "content-type": "application/json" }, secret));
});
