// @ts-check
// Every rundown operation against a real server, its deliveries, and its control token as the
// client's key (a hardware controller's Next button).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConflictError, NotFoundError, ValidationError } from "../dist/index.js";
import { client, env, eventually } from "./support.js";

const castimer = client();

/** @param {number} count */
async function timers(count) {
  const made = [];
  for (let i = 0; i < count; i++) {
    made.push((await castimer.timers.create({ duration: 60 + i, title: `Part ${i + 1}` })).id);
  }
  return made;
}

/** @param {string} url */
const tokenOf = (url) => /** @type {string} */ (new URL(url).hash.split("token=")[1]);

test("create, get, list, update, advance, rotate and delete a rundown", async () => {
  const ids = await timers(3);
  const show = await castimer.rundowns.create({ title: "Gala", timers: ids, auto_advance: false });
  assert.match(show.id, /^rnd_/);
  assert.deepEqual([show.title, show.timers, show.auto_advance], ["Gala", ids, false]);
  assert.deepEqual([show.current, show.next], [ids[0], ids[1]]);
  assert.match(show.urls.control, /#token=ctl_/);
  assert.deepEqual(show.items?.map((item) => [item.id, item.planned]),
                   [[ids[0], 60], [ids[1], 61], [ids[2], 62]]);

  const got = await castimer.rundowns.get(show.id);
  assert.equal(got.version, show.version);
  const other = await castimer.rundowns.create({ timers: [ids[0]] });
  const listed = [];
  for await (const rundown of castimer.rundowns.list({ limit: 1 })) listed.push(rundown.id);
  assert.ok(listed.includes(show.id) && listed.includes(other.id), listed.join());

  const edited = await castimer.rundowns.update(
    show.id, { title: "Gala night", timers: [ids[2], ids[0], ids[1]] }, show.version);
  assert.deepEqual([edited.title, edited.timers], ["Gala night", [ids[2], ids[0], ids[1]]]);
  const stale = await castimer.rundowns.update(show.id, { title: "x" }, show.version)
    .catch((error) => error);
  assert.ok(stale instanceof ConflictError, String(stale));

  const moved = await castimer.rundowns.advance(show.id, /** @type {string} */ (ids[0]));
  assert.equal(moved.current, ids[0]);
  assert.equal((await castimer.timers.get(/** @type {string} */ (ids[0]))).state, "running");
  const next = await castimer.rundowns.advance(show.id, "next", moved.version);
  assert.equal(next.current, ids[1]);
  // The timer it replaced, not completed, was stopped.
  assert.equal((await castimer.timers.get(/** @type {string} */ (ids[0]))).state, "completed");
  const late = await castimer.rundowns.advance(show.id, "previous", moved.version)
    .catch((error) => error);
  assert.ok(late instanceof ConflictError, String(late));
  assert.equal((await castimer.rundowns.advance(show.id, "previous")).current, ids[0]);
  // Only from the timer the show is on: it is on ids[0] now.
  const moved_on = await castimer.rundowns.advance(show.id, "next", undefined, ids[1])
    .catch((error) => error);
  assert.ok(moved_on instanceof ConflictError, String(moved_on));

  const rotated = await castimer.rundowns.rotateControlToken(show.id);
  assert.notEqual(tokenOf(rotated.urls.control), tokenOf(show.urls.control));

  await castimer.rundowns.delete(show.id, rotated.version);
  const gone = await castimer.rundowns.get(show.id).catch((error) => error);
  assert.ok(gone instanceof NotFoundError, String(gone));
  assert.equal((await castimer.timers.get(/** @type {string} */ (ids[1]))).id, ids[1],
               "its timers stay");
});

test("a rundown of no timers is a ValidationError naming timers", async () => {
  const error = await castimer.rundowns.create({ timers: [] }).catch((e) => e);
  assert.ok(error instanceof ValidationError, String(error));
  assert.equal(error.param, "timers");
});

test("a rundown's advances are delivered to its webhook and listed as its deliveries",
     async () => {
  const ids = await timers(2);
  const show = await castimer.rundowns.create({ timers: ids,
                                                webhook_url: env("CASTIMER_HOOK_URL") });
  await castimer.rundowns.advance(show.id, "next");
  const delivered = await eventually(async () => {
    for await (const delivery of castimer.deliveries.list(show.id)) {
      if (delivery.event === "rundown.advanced" && delivery.status === "succeeded") {
        return delivery;
      }
    }
    return null;
  }, "rundown.advanced delivered");
  assert.equal(delivered.rundown_id, show.id);
  const detail = await castimer.deliveries.get(delivered.id);
  assert.ok("rundown_id" in detail.payload && detail.payload.rundown_id === show.id);
  assert.equal(detail.payload.data.to, ids[1]);
  const logged = [];
  for await (const event of castimer.events.list()) {
    if ("rundown_id" in event && event.rundown_id === show.id) logged.push(event.event);
  }
  assert.ok(logged.includes("rundown.advanced"), logged.join());
});

test("the rundown's control token advances and reads it, and reaches nothing else",
     async () => {
  const ids = await timers(2);
  const show = await castimer.rundowns.create({ timers: ids });
  const desk = client({ apiKey: tokenOf(show.urls.control) });
  assert.equal((await desk.rundowns.advance(show.id, "next")).current, ids[1]);
  const seen = await desk.rundowns.get(show.id);
  assert.equal(seen.current, ids[1]);
  assert.equal(seen.webhook_url, undefined, "the account's webhook URL is not the desk's");
  const refused = await desk.rundowns.update(show.id, { title: "no" }).catch((e) => e);
  assert.ok(refused instanceof NotFoundError, String(refused));
});
