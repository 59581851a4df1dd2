// @ts-check
// The presenter page: the timer as big as the screen allows, in its level's colour; its
// commands as buttons and keys; the message to the stage and the blackout; how many screens
// watch; the connection and the measured clock-sync error. The control token comes from the
// URL fragment, which the browser never sends to any server, and goes only into the socket's
// first message.
import {
  daysLabel, el, fill, readConfig, roundLabel, shownClock, startsAt, stateShown,
  textSetter,
} from "./castimer.js";
import {
  STATUS_WORDS, digitFitter, enableCommands, liveRoom, presenterSocket,
} from "./presenter.js";
import { progress } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./time.js").Progress} Progress */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").ConnectionStatus} ConnectionStatus */
/** @typedef {import("./castimer.js").Connection} Connection */
/** @typedef {import("./presenter.js").PresenterSocket} PresenterSocket */

/** @typedef {PublicTimer & {adjustment?: number}} RoomTimer with the seconds added or removed */

/** @type {{lang: string, timer_id: string, text: Record<string, string>}} */
const config = readConfig();
const T = config.text;
const lang = config.lang;
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const set = textSetter((id) => document.getElementById(id), { hideEmpty: true });
const body = document.body;
/** @type {RoomTimer | null} */
let timer = null;
let version = 0;
let live = false;
/** @type {PresenterSocket | null} */
let socket = null;

/** @param {string} text */
function say(text) {
  set("notice", text);
}

/**
 * @param {string} name
 * @param {Record<string, unknown>} [fields] the command's own (seconds, text, flash, on)
 * @param {() => void} [then] once the server accepted it
 */
function command(name, fields = {}, then) {
  if (!socket || !socket.command(name, fields, then)) say(T["control.reconnecting"]);
}

const room = liveRoom(command, () => timer, set);

function enable() {
  enableCommands(document, timer, live);
  room.enable(live);
  if (!live || timer === null) disarmReset();
}

/** @type {Record<string, string>} */
const NEXT = { idle: "start", running: "pause", overtime: "pause", paused: "resume" };

function toggle() {
  const next = timer && NEXT[timer.state];
  if (next) command(next);
}

// -- reset, behind a confirmation: a stray tap must not lose a running talk's time --------------

const reset = el("reset", HTMLButtonElement);
/** @type {ReturnType<typeof setTimeout> | undefined} */
let disarmAt;

function disarmReset() {
  clearTimeout(disarmAt);
  if (!reset.dataset.armed) return;
  delete reset.dataset.armed;
  reset.textContent = T["control.reset"];
}

function askReset() {
  if (reset.disabled) return;
  if (reset.dataset.armed) {
    disarmReset();
    command("reset");
    return;
  }
  reset.dataset.armed = "1";
  reset.textContent = T["control.reset_confirm"];
  disarmAt = setTimeout(disarmReset, 4000);
}

// -- the socket ------------------------------------------------------------------------------

/** @param {ServerMessage} message */
function onMessage(message) {
  if (message.type === "presence") {
    set("viewers", fill(T["control.viewers"], { n: message.viewers }, lang));
    return;
  }
  if (message.type === "deleted") {
    timer = null;
    set("state", T["widget.deleted"]);
    return enable();
  }
  if (!message.timer || message.v < version) return;
  version = message.v;
  timer = message.timer;
  set("title", timer.title || "");
  room.show();
  enable();
}

/** @param {ConnectionStatus} status */
function onStatus(status) {
  const words = T[STATUS_WORDS[status]];
  const trying = status === "connecting" || status === "reconnecting";
  live = status === "live";
  set("connection", live || trying ? words : "");
  body.dataset.connection = status;
  if (live) say("");
  else if (!trying) {
    // Nothing more will come: what was shown is no longer known to be true.
    say(words);
    timer = null;
    delete body.dataset.level;
    set("time", "--:--");
    set("viewers", "");
  }
  enable();
}

const fitTime = digitFitter(el("time"));

/** @param {Progress} seen */
function showLevel(seen) {
  body.dataset.level = seen.level;
  body.dataset.state = seen.state;
  // Stop belongs to a timer past zero: it ends the overrun (a pause there keeps it possible).
  const over = seen.level === "overtime" && seen.state !== "completed";
  el("stop").hidden = !over;
  body.dataset.over = String(over);
  const primary = seen.state === "paused" ? "resume"
    : seen.state === "running" || seen.state === "overtime" ? "pause" : "start";
  for (const name of ["start", "pause", "resume"]) el(name).hidden = name !== primary;
}

/**
 * @param {RoomTimer} shown
 * @param {Progress} seen
 * @param {number} at the server's clock now
 */
function stateWords(shown, seen, at) {
  const state = seen.state === "overtime" ? T["control.overtime"]
    : startsAt(T, shown, at, lang) || T[`widget.${stateShown(seen)}`];
  const level = seen.level === "warning" || seen.level === "danger"
    ? T[`control.level_${seen.level}`] : "";
  return level && seen.state !== "completed" ? `${state} · ${level}` : state;
}

/**
 * How much of the planned time is left, for the bar under the digits (time added can fill it;
 * an event has no length).
 * @param {RoomTimer} shown
 * @param {Progress} seen
 */
function barFraction(shown, seen) {
  const planned = shown.total_ms - (shown.adjustment ?? 0) * 1000;
  if (shown.type === "event" || planned <= 0) return 0;
  return Math.min(1, Math.max(0, seen.remaining_ms / planned));
}

/** @param {Connection} connection */
function frame(connection) {
  if (timer) {
    const at = connection.serverNow();
    const seen = progress(timer, at);
    const shown = shownClock(seen, lang);
    set("time", shown.text);
    fitTime(shown.text);
    set("days", shown.days ? daysLabel(shown.days, lang) : "");
    set("round", roundLabel(T, seen, timer, lang));
    set("state", stateWords(timer, seen, at));
    showLevel(seen);
    el("bar").style.transform = `scaleX(${barFraction(timer, seen)})`;
  } else if (!live) {
    set("state", "");
    set("round", "");
    set("days", "");
  }
  const error = connection.syncError();
  // Sync is measured only over an open socket: nothing is said of it otherwise.
  set("sync", !live ? "" : error === null ? T["control.sync_pending"]
    : fill(T["control.sync"], { ms: Math.max(1, Math.round(error)) }, lang));
  requestAnimationFrame(() => frame(connection));
}

// -- buttons and keys ------------------------------------------------------------------------

const onTap = room.onTap;
for (const name of ["start", "pause", "resume", "stop"]) {
  onTap(el(name, HTMLButtonElement), () => command(name));
}
onTap(reset, askReset);
/** @type {NodeListOf<HTMLButtonElement>} */
const adjustButtons = document.querySelectorAll("button[data-seconds]");
for (const button of adjustButtons) {
  onTap(button, () => command("adjust", { seconds: Number(button.dataset.seconds) }));
}

/** @type {Record<string, number>} */
const KEYS = { ArrowRight: 10, ArrowLeft: -10, ArrowUp: 60, ArrowDown: -60 };
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target instanceof HTMLInputElement) return; // typing a message
  // A focused button already answers Space and Enter itself.
  if (event.target instanceof HTMLButtonElement && (event.key === " " || event.key === "Enter")) {
    return;
  }
  if (event.key === " ") toggle();
  else if (event.key === "r" || event.key === "R") askReset();
  else if (event.key === "b" || event.key === "B") el("blackout").click();
  else if (KEYS[event.key]) command("adjust", { seconds: KEYS[event.key] });
  else return;
  event.preventDefault();
});

// Another presenter link pasted into this tab differs only in its fragment, which loads
// nothing by itself: start afresh with its token.
addEventListener("hashchange", () => location.reload());

if (token) {
  socket = presenterSocket({
    timerId: config.timer_id, token, onMessage, onStatus,
    onAck: (ok, error) => say(ok ? "" : fill(T["control.refused"], { message: error }, lang)),
  });
  frame(socket.connection);
} else {
  say(T["control.no_token"]);
  set("connection", "");
}
