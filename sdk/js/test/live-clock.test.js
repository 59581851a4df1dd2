// @ts-check
// timers.live's clock arithmetic against a scripted server whose clock runs 30 s ahead of this
// machine's (on one machine the real server's offset is ~0 and could not show a mistake).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Castimer } from "../dist/index.js";
import { until } from "./support.js";

const AHEAD_MS = 30_000;

/** A WebSocket-shaped fake: answers pings at once from a clock AHEAD_MS ahead. */
class AheadSocket extends EventTarget {
  /** @type {AheadSocket[]} */
  static opened = [];
  readyState = 0;
  /** @type {((event: any) => void) | null} */ onopen = null;
  /** @type {((event: any) => void) | null} */ onmessage = null;
  /** @type {((event: any) => void) | null} */ onclose = null;
  /** @type {((event: any) => void) | null} */ onerror = null;

  /** @param {string} url */
  constructor(url) {
    super();
    this.url = url;
    AheadSocket.opened.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  /** @param {object} message */
  deliver(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  /** @param {string} text */
  send(text) {
    const ping = JSON.parse(text);
    setTimeout(() => this.deliver({ type: "pong", t: ping.t, server_time: Date.now() + AHEAD_MS }),
               0);
  }

  close(code = 1000) {
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason: "" }), 0);
  }
}

/** @param {number} remaining_ms @param {number} server_time */
const running = (remaining_ms, server_time) => ({
  id: "tmr_fake", type: "countdown", title: "", state: "running", duration: 60,
  remaining_ms, elapsed_ms: 60_000 - remaining_ms, total_ms: 60_000, round: null, phase: null,
  version: 3, server_time, level: "normal", message: null, blackout: false });

test("remaining_ms is moved on by the time since the server computed it, on its clock",
     async () => {
  const castimer = new Castimer({ apiKey: "ck_live_x", baseUrl: "https://timers.example.com",
                                  WebSocket: /** @type {any} */ (AheadSocket) });
  /** @type {import("../dist/index.js").LiveUpdate[]} */
  const updates = [];
  const stop = castimer.timers.live("tmr_fake", (update) => updates.push(update));
  try {
    const socket = await until(() => AheadSocket.opened[0], "the socket");
    assert.equal(socket.url, "wss://timers.example.com/ws/timers/tmr_fake");
    await until(() => socket.readyState === 1, "open");
    await new Promise((resolve) => setTimeout(resolve, 700)); // the quick pings come back
    // A snapshot the server made 500 ms ago on its clock: 500 ms less remain now.
    const made = Date.now() + AHEAD_MS - 500;
    socket.deliver({ type: "snapshot", v: 3, server_time: made, timer: running(10_000, made) });
    const snapshot = /** @type {import("../dist/index.js").LiveUpdate} */ (updates[0]);
    assert.equal(snapshot.type, "snapshot");
    assert.ok(Math.abs(snapshot.clockOffsetMs - AHEAD_MS) < 20, String(snapshot.clockOffsetMs));
    assert.ok(Math.abs(snapshot.timer.remaining_ms - 9_500) < 20,
              String(snapshot.timer.remaining_ms));
    assert.ok(Math.abs(snapshot.timer.elapsed_ms - 50_500) < 20);
    assert.ok(Math.abs(snapshot.timer.server_time - (Date.now() + AHEAD_MS)) < 20);
    // And it goes on counting down between messages.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(Math.abs(snapshot.remainingMs() - 9_300) < 40, String(snapshot.remainingMs()));

    const at = Date.now() + AHEAD_MS - 200;
    socket.deliver({ type: "tick", v: 3, server_time: at, timer: running(9_000, at) });
    const tick = /** @type {import("../dist/index.js").LiveUpdate} */ (updates.at(-1));
    assert.equal(tick.type, "tick");
    assert.ok(Math.abs(tick.timer.remaining_ms - 8_800) < 20, String(tick.timer.remaining_ms));
    // An older version than the one handed over is not handed over.
    socket.deliver({ type: "state", v: 2, server_time: at, timer: running(20_000, at) });
    assert.equal(updates.at(-1), tick);
  } finally {
    stop();
  }
});
