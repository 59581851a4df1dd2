// @ts-check
// The presenter page: the timer big, its commands as buttons and keys, the connection and the
// measured clock-sync error. The control token comes from the URL fragment, which the browser
// never sends to any server, and goes only into the socket's first message.
import {
  clock, connect, daysLabel, enableCommands, fill, readConfig, roundLabel, stateShown,
  textSetter,
} from "./castimer.js";
import { progress, seconds } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").ConnectionStatus} ConnectionStatus */
/** @typedef {import("./castimer.js").Connection} Connection */

/** @type {{lang: string, timer_id: string, text: Record<string, string>}} */
const config = readConfig();
const T = config.text;
const lang = config.lang;
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const set = textSetter((id) => document.getElementById(id), { hideEmpty: true });
/** @type {PublicTimer | null} */
let timer = null;
let version = 0;
let req = 0;
let live = false;
/** @type {Connection | null} */
let connection = null;

/** @param {string} text */
function say(text) {
  set("message", text);
}

function enable() {
  enableCommands(document, timer, live);
}

/**
 * @param {string} name
 * @param {number} [seconds] for adjust
 */
function command(name, seconds) {
  req += 1;
  const message = name === "adjust" ? { type: "command", req, command: name, seconds }
    : { type: "command", req, command: name };
  if (!connection || !connection.send(message)) say(T["control.reconnecting"]);
}

/** @type {Record<string, string>} */
const NEXT = { idle: "start", running: "pause", paused: "resume" };

function toggle() {
  const next = timer && NEXT[timer.state];
  if (next) command(next);
}

/** @param {ServerMessage} message */
function onMessage(message) {
  if (message.type === "ack") {
    say(message.ok ? "" : fill(T["control.refused"], { message: message.error?.message }, lang));
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
  enable();
}

/** @type {Record<ConnectionStatus, string>} */
const STATUS_WORDS = {
  connecting: "control.connecting", reconnecting: "control.reconnecting",
  live: "control.live", unauthorized: "control.bad_token", forbidden: "control.bad_token",
  not_found: "control.not_found", deleted: "widget.deleted",
};

/** @param {ConnectionStatus} status */
function onStatus(status) {
  const words = T[STATUS_WORDS[status]];
  const trying = status === "connecting" || status === "reconnecting";
  live = status === "live";
  set("connection", live || trying ? words : "");
  document.body.dataset.connection = status;
  if (live) say("");
  else if (!trying) say(words);
  enable();
}

/** @param {Connection} connection */
function frame(connection) {
  if (timer) {
    const seen = progress(timer, connection.serverNow());
    const shown = clock(seconds(seen.shown_ms), lang);
    set("time", shown.text);
    set("days", shown.days ? daysLabel(shown.days, lang) : "");
    set("round", roundLabel(T, seen, timer, lang));
    set("state", T[`widget.${stateShown(seen)}`]);
    document.body.dataset.state = seen.state;
  }
  const error = connection.syncError();
  set("sync", error === null ? T["control.sync_pending"]
    : fill(T["control.sync"], { ms: Math.max(1, Math.round(error)) }, lang));
  requestAnimationFrame(() => frame(connection));
}

/** @type {NodeListOf<HTMLButtonElement>} */
const commandButtons = document.querySelectorAll("button[data-command]");
for (const button of commandButtons) {
  button.addEventListener("click", (event) => {
    command(button.dataset.command ?? "");
    if (event.detail) button.blur(); // after a tap, Space is the shortcut again
  });
}
/** @type {NodeListOf<HTMLButtonElement>} */
const adjustButtons = document.querySelectorAll("button[data-seconds]");
for (const button of adjustButtons) {
  button.addEventListener("click", (event) => {
    command("adjust", Number(button.dataset.seconds));
    if (event.detail) button.blur();
  });
}
/** @type {Record<string, number>} */
const KEYS = { ArrowRight: 10, ArrowLeft: -10, ArrowUp: 60, ArrowDown: -60 };
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  // A focused button already answers Space and Enter itself.
  if (event.target instanceof HTMLButtonElement && (event.key === " " || event.key === "Enter")) {
    return;
  }
  if (event.key === " ") toggle();
  else if (event.key === "r" || event.key === "R") command("reset");
  else if (KEYS[event.key]) command("adjust", KEYS[event.key]);
  else return;
  event.preventDefault();
});

if (token) {
  connection = connect({
    path: `/ws/control/${encodeURIComponent(config.timer_id)}`,
    auth: { type: "auth", token }, guess: null, onMessage, onStatus,
  });
  frame(connection);
} else {
  say(T["control.no_token"]);
  set("connection", "");
}
