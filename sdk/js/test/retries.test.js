// @ts-check
// Retries of 429 and 503: against a real server's rate limit (a free-plan key, 30 requests a
// minute), and with a scripted fetch for what a healthy server cannot be made to answer.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Castimer, RateLimitError, ServiceUnavailableError } from "../dist/index.js";
import { baseUrl, env, recordingFetch } from "./support.js";

/** @param {Partial<import("../dist/index.js").CastimerOptions>} options */
const free = (options) => new Castimer({ apiKey: env("CASTIMER_FREE_KEY"), baseUrl: baseUrl(),
                                         ...options });

test("with retries off, a burst past the free plan raises RateLimitError with retryAfter",
     async () => {
  const castimer = free({ maxRetries: 0 });
  /** @type {unknown} */
  let error;
  for (let i = 0; i < 60 && error === undefined; i++) {
    await castimer.account.get().catch((e) => { error = e; });
  }
  assert.ok(error instanceof RateLimitError, String(error));
  assert.deepEqual([error.status, error.type], [429, "rate_limited"]);
  assert.ok(error.retryAfter !== null && error.retryAfter > 0 && error.retryAfter <= 60,
            String(error.retryAfter));
  assert.match(error.message, /free plan/);
});

test("a 429 is sent again after its Retry-After, and then succeeds", async () => {
  const { fetch, seen } = recordingFetch();
  const castimer = free({ fetch, maxRetries: 3 });
  for (let i = 0; i < 60 && !seen.some((s) => s.status === 429); i++) {
    assert.equal((await castimer.account.get()).plan, "free");
  }
  const first = seen.findIndex((s) => s.status === 429);
  assert.ok(first >= 0, "the burst met the limit");
  const limited = /** @type {typeof seen[number]} */ (seen[first]);
  const next = seen[first + 1];
  assert.ok(next, "the request was sent again");
  assert.equal(seen.at(-1)?.status, 200, "and succeeded in the end");
  const waited = next.at - limited.at;
  assert.ok(waited >= Number(limited.retryAfter) * 1000 - 50,
            `waited ${waited} ms for Retry-After ${limited.retryAfter}`);
});

test("a Retry-After longer than maxRetryDelayMs fails at once instead of waiting", async () => {
  const { fetch, seen } = recordingFetch();
  const castimer = free({ fetch, maxRetries: 5, maxRetryDelayMs: 10 });
  /** @type {unknown} */
  let error;
  for (let i = 0; i < 60 && error === undefined; i++) {
    await castimer.account.get().catch((e) => { error = e; });
  }
  assert.ok(error instanceof RateLimitError, String(error));
  assert.equal(seen.at(-1)?.status, 429);
  assert.equal(seen.filter((s) => s.status === 429).length, 1, "not sent again");
});

/**
 * A fetch that answers the given statuses in turn (then 200), counting the calls.
 * @param {number[]} statuses
 */
function scripted(statuses) {
  const calls = { count: 0 };
  /** @type {typeof fetch} */
  const answer = async () => {
    const status = statuses[calls.count++] ?? 200;
    const body = status === 200 ? { id: "acct_x" }
      : { error: { type: "service_unavailable", message: "the timer store is unreachable",
                   param: null } };
    return new Response(JSON.stringify(body), { status, headers: {
      "Content-Type": "application/json", "Retry-After": "0" } });
  };
  return { calls, client: new Castimer({ apiKey: "ck_live_x", fetch: answer, maxRetries: 2 }) };
}

test("a 503 is retried for reads and for conditional changes", async () => {
  const read = scripted([503, 503]);
  await read.client.account.get();
  assert.equal(read.calls.count, 3);
  const conditional = scripted([503]);
  await conditional.client.timers.pause("tmr_x", 4);
  assert.equal(conditional.calls.count, 2);
});

test("a 503 of a change the server may have made is not sent again", async () => {
  const create = scripted([503]);
  const error = await create.client.timers.create({ duration: 5 }).catch((e) => e);
  assert.ok(error instanceof ServiceUnavailableError, String(error));
  assert.equal(create.calls.count, 1);
});

test("retries are bounded by maxRetries", async () => {
  const always = scripted([503, 503, 503, 503, 503]);
  const error = await always.client.timers.get("tmr_x").catch((e) => e);
  assert.ok(error instanceof ServiceUnavailableError, String(error));
  assert.equal(always.calls.count, 3);
});
