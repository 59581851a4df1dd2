// @ts-check
// Every timer operation against a real server, and the errors as classes.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AuthenticationError, Castimer, ConflictError, NotFoundError, ValidationError,
} from "../dist/index.js";
import { baseUrl, client, recordingFetch } from "./support.js";

const castimer = client();

test("creates the three kinds of timer, each with its own fields", async () => {
  const countdown = await castimer.timers.create({
    title: "Keynote", duration: 1800, overtime: true, warn_at: 300, danger_at: 60 });
  assert.match(countdown.id, /^tmr_/);
  assert.equal(countdown.type, "countdown");
  assert.equal(countdown.state, "idle");
  assert.equal(countdown.duration, 1800);
  assert.equal(countdown.remaining_ms, 1_800_000);
  assert.equal(countdown.overtime, true);
  assert.deepEqual([countdown.warn_at, countdown.danger_at, countdown.level], [300, 60, "normal"]);
  assert.match(countdown.urls.control, /#token=ctl_/);

  const target = new Date(Date.now() + 86_400_000).toISOString();
  const event = await castimer.timers.create({ type: "event", title: "Launch",
                                               target_date: target, timezone: "Europe/Paris" });
  assert.equal(event.type, "event");
  assert.equal(event.state, "running"); // an event counts from its creation
  assert.equal(event.timezone, "Europe/Paris");

  const hiit = await castimer.timers.create({ type: "interval", work: 20, rest: 10, rounds: 8 });
  assert.deepEqual([hiit.work, hiit.rest, hiit.rounds, hiit.total_ms], [20, 10, 8, 240_000]);
});

test("get answers the timer with its live remaining time", async () => {
  const created = await castimer.timers.create({ duration: 60 });
  const got = await castimer.timers.get(created.id);
  assert.equal(got.id, created.id);
  assert.equal(got.viewers, 0);
  assert.equal(typeof got.server_time, "number");
});

test("list goes through every page", async () => {
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await castimer.timers.create({ duration: 10 + i })).id);
  const { fetch, seen } = recordingFetch();
  const listed = [];
  for await (const timer of client({ fetch }).timers.list({ limit: 2 })) listed.push(timer.id);
  for (const id of made) assert.ok(listed.includes(id), id);
  assert.equal(new Set(listed).size, listed.length, "no timer twice");
  assert.ok(seen.filter((s) => s.url.includes("/timers?")).length >= 3, "pages of two");
});

test("update changes fields, and a stale expected version is a ConflictError", async () => {
  const timer = await castimer.timers.create({ duration: 60, title: "Before" });
  const updated = await castimer.timers.update(timer.id, { title: "After", duration: 90 },
                                               timer.version);
  assert.equal(updated.title, "After");
  assert.equal(updated.duration, 90);
  assert.equal(updated.version, timer.version + 1);
  const conflict = await castimer.timers.update(timer.id, { title: "Lost" }, timer.version)
    .catch((error) => error);
  assert.ok(conflict instanceof ConflictError, String(conflict));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.currentVersion, updated.version);
  assert.equal(conflict.param, "expected_version");
});

test("state by target and by action: start, pause, resume, adjust, stop, reset", async () => {
  const { timers } = castimer;
  const timer = await timers.create({ duration: 600 });
  assert.equal((await timers.setState(timer.id, "running")).state, "running");
  assert.equal((await timers.setState(timer.id, "paused")).state, "paused");
  assert.equal((await timers.setState(timer.id, "idle")).state, "idle");

  const started = await timers.start(timer.id);
  assert.equal(started.state, "running");
  const paused = await timers.pause(timer.id, started.version);
  assert.equal(paused.state, "paused");
  assert.equal((await timers.resume(timer.id)).state, "running");
  const longer = await timers.adjust(timer.id, 30);
  assert.equal(longer.adjustment, 30);
  assert.ok(longer.remaining_ms > 600_000, String(longer.remaining_ms));
  const stopped = await timers.stop(timer.id);
  assert.equal(stopped.state, "completed");
  const reset = await timers.reset(timer.id);
  assert.deepEqual([reset.state, reset.remaining_ms], ["idle", 600_000]);
});

test("a message goes up and comes down", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  const shown = await castimer.timers.setMessage(timer.id, "Wrap up ☕", true);
  assert.equal(shown.message?.text, "Wrap up ☕");
  assert.equal(shown.message?.flash, true);
  assert.equal((await castimer.timers.clearMessage(timer.id)).message, null);
});

test("blackout and the control token's rotation", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  assert.equal((await castimer.timers.update(timer.id, { blackout: true })).blackout, true);
  const rotated = await castimer.timers.rotateControlToken(timer.id);
  assert.notEqual(rotated.urls.control, timer.urls.control);
});

test("delete, and then the timer is a NotFoundError", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  const stale = await castimer.timers.delete(timer.id, timer.version + 5).catch((e) => e);
  assert.ok(stale instanceof ConflictError, String(stale));
  assert.equal(await castimer.timers.delete(timer.id, timer.version), undefined);
  const gone = await castimer.timers.get(timer.id).catch((error) => error);
  assert.ok(gone instanceof NotFoundError, String(gone));
  assert.equal(gone.status, 404);
  assert.equal(gone.type, "not_found");
});

test("a value not allowed (422) and an unknown field (400) are ValidationErrors naming it",
     async () => {
  const zero = await castimer.timers.create({ duration: 0 }).catch((error) => error);
  assert.ok(zero instanceof ValidationError, String(zero));
  assert.deepEqual([zero.status, zero.param], [422, "duration"]);
  const unknown = await castimer.timers.create(
    /** @type {any} */ ({ duration: 5, colour: "red" })).catch((error) => error);
  assert.ok(unknown instanceof ValidationError, String(unknown));
  assert.deepEqual([unknown.status, unknown.param], [400, "colour"]);
  assert.match(unknown.message, /colour/);
});

test("a wrong key is an AuthenticationError", async () => {
  const stranger = new Castimer({ apiKey: "ck_live_nobody", baseUrl: baseUrl() });
  const error = await stranger.account.get().catch((e) => e);
  assert.ok(error instanceof AuthenticationError, String(error));
  assert.equal(error.status, 401);
});

test("a timer's control token runs that timer, and reaches nothing else", async () => {
  const timer = await castimer.timers.create({ duration: 60 });
  const token = /** @type {string} */ (new URL(timer.urls.control).hash.split("token=")[1]);
  const desk = client({ apiKey: token });
  assert.equal((await desk.timers.start(timer.id)).state, "running");
  assert.equal((await desk.timers.adjust(timer.id, 10)).adjustment, 10);
  assert.equal((await desk.timers.setMessage(timer.id, "Five minutes")).message?.text,
               "Five minutes");
  const seen = await desk.timers.get(timer.id);
  assert.equal(seen.webhook_url, undefined, "the account's webhook settings are not the desk's");
  const refused = await desk.timers.update(timer.id, { title: "no" }).catch((e) => e);
  assert.ok(refused instanceof NotFoundError, String(refused));
});
