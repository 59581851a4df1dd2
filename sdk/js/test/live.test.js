// @ts-check
// timers.live against a real server: the snapshot, ticks with the clock offset applied, pause
// and resume as they happen, and a server restart survived (the pytest side restarts the
// server on its port when this test writes CASTIMER_RESTART_DIR/restart).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { client, env, sleep, until } from "./support.js";

const castimer = client();

/** @typedef {import("../dist/index.js").LiveUpdate} LiveUpdate */
/** @typedef {import("../dist/index.js").LiveStatus} LiveStatus */

/** @param {string} id */
function watch(id) {
  /** @type {LiveUpdate[]} */
  const updates = [];
  /** @type {LiveStatus[]} */
  const statuses = [];
  /** @type {unknown[]} */
  const errors = [];
  const stop = castimer.timers.live(id, (update) => updates.push(update), {
    onStatus: (status) => statuses.push(status), onError: (error) => errors.push(error),
    reconnectMinMs: 100, reconnectMaxMs: 1000 });
  return { updates, statuses, errors, stop };
}

/** The remaining time the REST API says, moved on to now (same machine: same clock). */
async function restRemaining(/** @type {string} */ id) {
  const timer = await castimer.timers.get(id);
  return timer.remaining_ms - (Date.now() - timer.server_time);
}

test("live follows a running timer: snapshot, ticks, pause and resume", async () => {
  const timer = await castimer.timers.create({ duration: 120, title: "Live" });
  await castimer.timers.start(timer.id);
  const live = watch(timer.id);
  try {
    const snapshot = await until(() => live.updates.find((u) => u.type === "snapshot"),
                                 "the snapshot");
    assert.equal(snapshot.timer.id, timer.id);
    assert.equal(snapshot.timer.state, "running");
    assert.ok(live.statuses.includes("live"), live.statuses.join());

    const tick = await until(() => live.updates.find((u) => u.type === "tick"), "a tick", 3000);
    assert.ok(tick.timer.remaining_ms < 120_000 && tick.timer.remaining_ms > 110_000);
    // One machine: the measured offset is tiny, and the live time agrees with the REST API's.
    const latest = await until(() => live.updates.find((u) => u.syncErrorMs !== null),
                               "an update after a pong", 3000);
    assert.ok(Math.abs(latest.clockOffsetMs) < 100, String(latest.clockOffsetMs));
    assert.ok(/** @type {number} */ (latest.syncErrorMs) < 100, String(latest.syncErrorMs));
    assert.ok(Math.abs(latest.remainingMs() - await restRemaining(timer.id)) < 150);
    const before = latest.remainingMs();
    await sleep(300);
    const counted = before - latest.remainingMs();
    assert.ok(counted >= 250 && counted <= 400, `counted ${counted} ms in 300`);

    await castimer.timers.pause(timer.id);
    const paused = await until(() => live.updates.find((u) => u.event === "timer.paused"),
                               "timer.paused");
    assert.deepEqual([paused.type, paused.timer.state], ["state", "paused"]);
    const held = paused.remainingMs();
    await sleep(200);
    assert.equal(paused.remainingMs(), held, "a paused timer's time stands still");

    await castimer.timers.resume(timer.id);
    const resumed = await until(() => live.updates.find((u) => u.event === "timer.resumed"),
                                "timer.resumed");
    assert.equal(resumed.timer.state, "running");
    assert.ok(resumed.version > paused.version);
    assert.ok(Math.abs(resumed.timer.remaining_ms - held) < 150);
  } finally {
    live.stop();
  }
  assert.equal(live.statuses.at(-1), "closed");
  assert.deepEqual(live.errors, []);
});

test("live tells of a deletion and stops", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  const live = watch(timer.id);
  await until(() => live.updates.find((u) => u.type === "snapshot"), "the snapshot");
  await castimer.timers.delete(timer.id);
  const deleted = await until(() => live.updates.find((u) => u.type === "deleted"), "deleted");
  assert.equal(deleted.timer.id, timer.id);
  await until(() => live.statuses.includes("deleted"), "the final status");
  live.stop();
});

test("live recovers from a server restart and resumes from a fresh snapshot", async () => {
  const timer = await castimer.timers.create({ duration: 300, title: "Restart" });
  await castimer.timers.start(timer.id);
  const live = watch(timer.id);
  try {
    await until(() => live.updates.find((u) => u.type === "snapshot"), "the first snapshot");
    writeFileSync(join(env("CASTIMER_RESTART_DIR"), "restart"), timer.id);
    await until(() => live.statuses.includes("reconnecting"), "the connection to drop", 30_000);
    const again = await until(
      () => live.updates.filter((u) => u.type === "snapshot")[1], "a snapshot after", 60_000);
    assert.equal(again.timer.state, "running");
    assert.ok(Math.abs(again.remainingMs() - await restRemaining(timer.id)) < 150);
    assert.equal(live.statuses.at(-1), "live");

    await castimer.timers.pause(timer.id);
    await until(() => live.updates.find((u) => u.event === "timer.paused"),
                "timer.paused on the new connection");
  } finally {
    live.stop();
  }
});

test("a live stream counts among the viewers unless told not to", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  /** @type {number[]} */
  const counts = [];
  const counted = castimer.timers.live(timer.id, () => {}, {
    onPresence: (viewers) => counts.push(viewers) });
  /** @type {LiveUpdate[]} */
  const quiet = [];
  const uncounted = castimer.timers.live(timer.id, (update) => quiet.push(update),
                                         { countAsViewer: false });
  try {
    await until(() => counts.includes(1), "presence: one viewer", 10_000);
    await until(() => quiet.length > 0, "the uncounted stream's snapshot");
    await sleep(1500); // presence is told at most once a second: room for a wrong second count
    assert.equal((await castimer.timers.get(timer.id)).viewers, 1);
    assert.ok(!counts.includes(2), counts.join());
  } finally {
    counted();
    uncounted();
  }
});
