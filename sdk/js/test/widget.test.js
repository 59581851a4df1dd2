// @ts-check
// onWidgetEvent with messages dispatched on a bare EventTarget, shaped as the widget posts
// them (server/widget/widget.js `tell`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { onWidgetEvent } from "../dist/index.js";

const ORIGIN = "https://timers.example.com";
const posted = { source: "castimer", event: "timer.completed", timer_id: "tmr_abc",
                 state: "completed", remaining_ms: 0, round: null, phase: null,
                 level: "normal", message: null, v: 7 };

/**
 * @param {EventTarget} target
 * @param {unknown} data
 * @param {{origin?: string, source?: unknown}} [from]
 */
function post(target, data, from = {}) {
  target.dispatchEvent(Object.assign(new Event("message"),
                                     { data, origin: from.origin ?? ORIGIN,
                                       source: from.source ?? null }));
}

test("hears a widget's events and nothing else", () => {
  const target = new EventTarget();
  /** @type {import("../dist/index.js").WidgetEvent[]} */
  const heard = [];
  const stop = onWidgetEvent((event) => heard.push(event), { target });
  post(target, posted);
  post(target, { source: "other", event: "timer.completed" });
  post(target, "castimer:timer.completed");
  post(target, null);
  post(target, { source: "castimer" }); // no event name
  assert.deepEqual(heard, [posted]);
  stop();
  post(target, posted);
  assert.equal(heard.length, 1, "nothing after stop");
});

test("with an origin, only the widget's server is heard", () => {
  const target = new EventTarget();
  /** @type {string[]} */
  const heard = [];
  onWidgetEvent((event, message) => heard.push(`${event.event} ${message.origin}`),
                { target, origin: `${ORIGIN}/widget?timer=tmr_abc` });
  post(target, posted);
  post(target, posted, { origin: "https://evil.example" });
  assert.deepEqual(heard, [`timer.completed ${ORIGIN}`]);
});

test("with a frame, only that iframe's widget is heard", () => {
  const target = new EventTarget();
  const mine = { contentWindow: {} };
  const theirs = { contentWindow: {} };
  /** @type {number[]} */
  const heard = [];
  onWidgetEvent((event) => heard.push(event.v), { target, frame: mine, origin: [ORIGIN] });
  post(target, { ...posted, v: 1 }, { source: mine.contentWindow });
  post(target, { ...posted, v: 2 }, { source: theirs.contentWindow });
  assert.deepEqual(heard, [1]);
});
