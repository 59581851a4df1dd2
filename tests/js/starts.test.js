// @ts-check
// A scheduled start in words (castimer.js startsAt): in the timer's zone, or the offset its
// start_at was written with; the date only when that is not today there.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { offsetDate, startsAt, viewerStatus } from "../../server/static/castimer.js";

/** @typedef {import("../../server/static/time.js").PublicTimer} PublicTimer */
/** @typedef {import("../../server/static/time.js").Progress} Progress */

/** @param {string} lang */
function catalog(lang) {
  return /** @type {Record<string, string>} */ (JSON.parse(readFileSync(
    new URL(`../../server/catalogs/${lang}.json`, import.meta.url), "utf8")));
}

/**
 * An idle countdown scheduled at `start_at`.
 * @param {string | null} start_at
 * @param {Partial<PublicTimer>} [more]
 * @returns {PublicTimer}
 */
function scheduled(start_at, more = {}) {
  return { type: "countdown", state: "idle", remaining_ms: 300000, elapsed_ms: 0,
           total_ms: 300000, server_time: 0, duration: 300, start_at, ...more };
}

/**
 * @param {string} lang
 * @param {PublicTimer} timer
 * @param {string} now ISO 8601
 */
function words(lang, timer, now) {
  return startsAt(catalog(lang), timer, Date.parse(now), lang);
}

test("reads the forms of ISO 8601 the server takes, with the offset they were written in", () => {
  const paris = Date.UTC(2026, 11, 3, 13);
  assert.deepEqual(offsetDate("2026-12-03T14:00:00+01:00"), { ms: paris, offset_ms: 3600000 });
  assert.deepEqual(offsetDate("20261203T1400+0100"), { ms: paris, offset_ms: 3600000 });
  assert.deepEqual(offsetDate("2026-12-03T14+01"), { ms: paris, offset_ms: 3600000 });
  assert.deepEqual(offsetDate("2026-12-03 13:00:00.5Z"), { ms: paris + 500, offset_ms: 0 });
  assert.deepEqual(offsetDate("2026-12-03T09:30-03:30"), { ms: paris, offset_ms: -12600000 });
  assert.deepEqual(offsetDate("2026-12-03T18:45:00.250+05:45"),
                   { ms: paris + 250, offset_ms: 20700000 });
  assert.equal(offsetDate("2026-12-03T14:00:00"), null); // no offset: the server refuses it
  assert.equal(offsetDate("tomorrow at two"), null);
});

test("a start later today says the time alone, as the language writes it", () => {
  const timer = scheduled("2026-12-03T14:00:00+01:00");
  const now = "2026-12-03T08:00:00Z";
  assert.match(words("en", timer, now), /^Starts at 2:00\sPM$/u);
  assert.equal(words("de", timer, now), "Beginnt um 14:00");
  assert.equal(words("fr", timer, now), "Commence à 14:00");
  assert.equal(words("ja", timer, now), "14:00に開始");
  assert.equal(words("zh", timer, now), "将于 14:00 开始");
});

test("the hour is the one written, whatever offset this screen is in", () => {
  // 14:00 in Kathmandu (+05:45) is 08:15 UTC: no other zone's clock reads 14:00 then.
  const timer = scheduled("2026-12-03T14:00:00+05:45");
  assert.equal(words("de", timer, "2026-12-03T06:00:00Z"), "Beginnt um 14:00");
  assert.equal(words("es", scheduled("2026-12-03T09:30:00-03:30"), "2026-12-03T06:00:00Z"),
               "Empieza a las 9:30");
});

test("a start on another day says the date too", () => {
  const timer = scheduled("2026-12-05T14:00:00+01:00");
  const now = "2026-12-03T08:00:00Z";
  assert.match(words("en", timer, now), /^Starts on Dec 5 at 2:00\sPM$/u);
  assert.equal(words("de", timer, now), "Beginnt am 5. Dez. um 14:00");
  assert.equal(words("ja", timer, now), "12月5日 14:00に開始");
  assert.equal(words("zh", timer, now), "将于 12月5日 14:00 开始");
});

test("today is today where the start is: past midnight there is tomorrow", () => {
  // 00:30 on the 4th in Tokyo is 15:30 UTC on the 3rd; at 14:00 UTC it is still the 3rd
  // by UTC, but 23:00 on the 3rd in Tokyo, so the start is tomorrow there.
  const timer = scheduled("2026-12-04T00:30:00+09:00");
  assert.equal(words("ja", timer, "2026-12-03T14:00:00Z"), "12月4日 0:30に開始");
  // An hour later it is the 4th in Tokyo too.
  assert.equal(words("ja", timer, "2026-12-03T15:00:00Z"), "0:30に開始");
});

test("a timer's own timezone wins over the offset start_at was written with", () => {
  const timer = scheduled("2026-12-04T03:00:00Z", { timezone: "America/New_York" });
  // 03:00 UTC on the 4th is 22:00 on the 3rd in New York, where it is the 3rd still.
  assert.match(words("en", timer, "2026-12-03T20:00:00Z"), /^Starts at 10:00\sPM$/u);
  const unknown = scheduled("2026-12-04T03:00:00Z", { timezone: "Mars/Olympus" });
  assert.equal(words("de", unknown, "2026-12-03T20:00:00Z"), "Beginnt am 4. Dez. um 03:00");
});

test("a start in another year says the year", () => {
  const timer = scheduled("2027-01-02T14:00:00+01:00");
  assert.equal(words("de", timer, "2026-12-30T08:00:00Z"), "Beginnt am 2. Jan. 2027 um 14:00");
  assert.equal(words("zh", timer, "2026-12-30T08:00:00Z"), "将于 2027年1月2日 14:00 开始");
});

test("nothing is said without a start to wait for", () => {
  assert.equal(words("en", scheduled(null), "2026-12-03T08:00:00Z"), "");
  assert.equal(words("en", scheduled("2026-12-03T14:00:00+01:00", { state: "running" }),
                     "2026-12-03T08:00:00Z"), "");
  assert.equal(words("en", scheduled("not a date"), "2026-12-03T08:00:00Z"), "");
});

test("an idle viewer shows the scheduled start in place of ready; the end still wins", () => {
  const T = catalog("en");
  /** @type {Progress} */
  const idle = { state: "idle", remaining_ms: 300000, level: "normal", round: null, phase: null,
                 shown_ms: 300000 };
  assert.equal(viewerStatus(T, idle, "live", "Starts at 14:00"), "Starts at 14:00");
  assert.equal(viewerStatus(T, idle, "live", ""), T["widget.idle"]);
  assert.equal(viewerStatus(T, idle, "reconnecting", "Starts at 14:00"),
               T["widget.reconnecting"]);
  assert.equal(viewerStatus(T, { ...idle, state: "paused" }, "live", "Starts at 14:00"),
               T["widget.paused"]);
});
