// @ts-check
// The time arithmetic's shared cases (tests/data/time_cases.json) against the pages' module;
// tests/test_time_cases.py runs the same cases against server/timers.py.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { progress } from "../../server/static/time.js";

/** @typedef {import("../../server/static/time.js").PublicTimer} PublicTimer */
/**
 * @typedef {object} Case
 * @property {string} name
 * @property {PublicTimer} snapshot
 * @property {({now: number} & Record<string, unknown>)[]} at
 */

/** @type {{cases: Case[]}} */
const { cases } = JSON.parse(
  readFileSync(new URL("../data/time_cases.json", import.meta.url), "utf8"));

for (const { name, snapshot, at } of cases) {
  test(name, () => {
    for (const { now, ...expected } of at) {
      const seen = /** @type {Record<string, unknown>} */ (progress(snapshot, now));
      const got = Object.fromEntries(Object.keys(expected).map((field) => [field, seen[field]]));
      assert.deepEqual(got, expected, `at ${now}`);
    }
  });
}

// What only the pages compute: the digits show an interval's time left in its phase.
/** @type {PublicTimer} */
const hiit = { type: "interval", state: "running", remaining_ms: 240000, elapsed_ms: 0,
               total_ms: 240000, server_time: 0, work: 20, rest: 10, rounds: 8 };

test("an interval's digits show the time left in the phase", () => {
  assert.equal(progress(hiit, 5000).shown_ms, 15000);
  assert.equal(progress(hiit, 25000).shown_ms, 5000);
  assert.equal(progress(hiit, 239000).shown_ms, 1000);
});

test("time removed shortens what the digits show when less is left than the phase", () => {
  const short = { ...hiit, remaining_ms: 5000, total_ms: 5000 };
  assert.equal(progress(short, 1000).shown_ms, 4000);
});

test("a countdown's digits show its remaining time", () => {
  const countdown = { ...hiit, type: /** @type {const} */ ("countdown"), remaining_ms: 60000 };
  assert.equal(progress(countdown, 500).shown_ms, 59500);
});
