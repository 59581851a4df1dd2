// @ts-check
// A show's presenter page: its timers in order with planned and actual time and the over/under
// of each one run; the current timer as big as the phone allows, with start and pause, the
// message to the stage and the blackout; next and previous. The rundown's socket says when the
// show moves on; the page then reads the rundown again (GET, with the rundown's control token),
// and runs the current timer over that timer's presenter socket with the rundown's token (the
// server lets it in for a timer of the show, while the token is current). The token comes
// from the URL fragment, which the browser never sends to any server.
import {
  connect, daysLabel, el, fill, readConfig, roundLabel, shownClock, startsAt,
  stateShown, textSetter,
} from "./castimer.js";
import {
  STATUS_WORDS, digitFitter, enableCommands, liveRoom, presenterSocket,
} from "./presenter.js";
import { progress } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").ConnectionStatus} ConnectionStatus */
/** @typedef {import("./presenter.js").PresenterSocket} PresenterSocket */

/**
 * One timer of the show, as GET /rundowns/{id} lists it (`missing` once deleted).
 * @typedef {object} Item
 * @property {string} id
 * @property {boolean} [missing]
 * @property {string} title
 * @property {string} state
 * @property {number | null} planned seconds
 * @property {number | null} actual seconds, once it completed
 * @property {number | null} over_under actual minus planned
 */

/**
 * @typedef {object} Show
 * @property {string} title
 * @property {string | null} current
 * @property {string | null} next
 * @property {number} version
 * @property {string | null} completed_at
 * @property {Item[]} items
 */

/** @type {{lang: string, rundown_id: string, text: Record<string, string>}} */
const config = readConfig();
const T = config.text;
const lang = config.lang;
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const set = textSetter((id) => document.getElementById(id), { hideEmpty: true });
const body = document.body;
/** @type {Show | null} */
let show = null;
/** @type {{id: string, socket: PresenterSocket} | null} the current timer's presenter socket */
let running = null;
/** @type {PublicTimer | null} the current timer, as its socket last said */
let timer = null;
let version = 0;
let live = false;

// -- numbers -----------------------------------------------------------------------------------

/** @type {Map<string, Intl.NumberFormat>} */
const numbers = new Map();
/** @param {number} digits */
function number(digits) {
  let format = numbers.get(String(digits));
  if (!format) {
    format = new Intl.NumberFormat(lang, { minimumIntegerDigits: digits, useGrouping: false });
    numbers.set(String(digits), format);
  }
  return format;
}

/**
 * A length of time as a show's running order writes it: "4:05", "1:02:00".
 * @param {number} total seconds, not negative
 */
function length(total) {
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  return h ? `${number(1).format(h)}:${number(2).format(m)}:${number(2).format(s)}`
    : `${number(1).format(m)}:${number(2).format(s)}`;
}

/**
 * Over or under the plan: "+0:12" (over), "−0:30" (under), "0:00" on time.
 * @param {number} seconds
 */
function overUnder(seconds) {
  const sign = seconds > 0 ? "+" : seconds < 0 ? "\u2212" : "";
  return sign + length(Math.abs(seconds));
}

// -- the list ------------------------------------------------------------------------------------

const rows = el("items", HTMLTableElement).tBodies[0];
const rowTemplate = el("item-template", HTMLTemplateElement);

/**
 * @param {HTMLElement} row
 * @param {string} selector
 * @param {string} text
 * @returns {HTMLElement | null}
 */
function cell(row, selector, text) {
  const found = row.querySelector(selector);
  if (!(found instanceof HTMLElement)) return null;
  found.textContent = text;
  return found;
}

/** @param {Show} shown */
function showList(shown) {
  const made = shown.items.map((item, index) => {
    const row = /** @type {HTMLElement} */ (rowTemplate.content.firstElementChild?.cloneNode(true));
    row.dataset.timerId = item.id;
    row.dataset.state = item.missing ? "missing" : item.state;
    cell(row, ".position", number(1).format(index + 1));
    cell(row, ".item-title", item.missing ? T["control.rundown_missing"]
      : item.title || T["control.rundown_untitled"]);
    cell(row, ".planned", item.planned === null || item.missing ? "" : length(item.planned));
    cell(row, ".actual", item.actual === null || item.missing ? "" : length(item.actual));
    const delta = item.over_under ?? null;
    const over = cell(row, ".over-under", delta === null ? "" : overUnder(delta));
    if (over && delta !== null) over.dataset.sign = delta > 0 ? "over" : delta < 0 ? "under" : "";
    const role = item.id === shown.current ? "current" : item.id === shown.next ? "next" : "";
    const marker = row.querySelector(".marker");
    if (role && marker instanceof HTMLElement) {
      row.dataset.role = role;
      marker.textContent = T[role === "current" ? "control.rundown_now" : "control.rundown_up_next"];
      marker.hidden = false;
    }
    if (role === "current") row.setAttribute("aria-current", "step");
    return row;
  });
  rows.replaceChildren(...made);
  const at = shown.current ? shown.items.findIndex((item) => item.id === shown.current) : -1;
  set("show-title", shown.title);
  set("position", at < 0 ? "" : fill(T["control.rundown_position"], {
    n: at + 1, count: shown.items.length }, lang));
  el("no-current").hidden = shown.current !== null;
  el("show-done").hidden = !shown.completed_at;
}

// -- the rundown: read again at every change ---------------------------------------------------

let reading = false;
let again = false;

/** Read the rundown (one request at a time; a change meanwhile reads it once more after). */
function reload() {
  if (reading) {
    again = true;
    return;
  }
  reading = true;
  again = false;
  request("GET", "").then(accept, refused).finally(() => {
    reading = false;
    if (again) reload();
  });
}

/**
 * A request to the rundown's API with its control token.
 * @param {"GET" | "POST"} method
 * @param {string} path under the rundown's
 * @param {object} [payload]
 * @returns {Promise<Show>}
 */
async function request(method, path, payload) {
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${token}` };
  if (payload) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/v1/rundowns/" + encodeURIComponent(config.rundown_id)
    + path, { method, headers, body: payload ? JSON.stringify(payload) : null, cache: "no-store" });
  const answer = await response.json();
  if (!response.ok) {
    throw Object.assign(new Error(answer.error?.message ?? response.statusText),
                        { status: response.status });
  }
  return answer;
}

/**
 * The API's refusal, beside next and previous. A link whose token is wrong or was rotated gets
 * 401 or 404, as for no such rundown.
 * @param {Error & {status?: number}} error
 */
function refused(error) {
  set("nav-error", error.status === 401 || error.status === 404 ? T["control.bad_token"]
    : fill(T["control.refused"], { message: error.message }, lang));
}

/**
 * The rundown as the server answered, unless an answer about a later version came first (a
 * read started before a move can end after it).
 * @param {Show} shown
 */
function accept(shown) {
  if (show && shown.version < show.version) return;
  show = shown;
  showList(shown);
  follow(shown);
  enable();
}

/**
 * Move the show: next, previous (or a timer id).
 * @param {string} to
 */
function advance(to) {
  const payload = show ? { to, expected_version: show.version } : { to };
  request("POST", "/advance", payload).then((shown) => {
    set("nav-error", "");
    accept(shown);
  }, refused);
}

// -- the current timer, over its own presenter socket -------------------------------------------

/** @param {Show} shown */
function follow(shown) {
  const item = shown.items.find((i) => i.id === shown.current && !i.missing) ?? null;
  if (running && running.id === item?.id) return;
  running?.socket.connection.close();
  running = null;
  timer = null;
  version = 0;
  live = false;
  room.show();
  if (!item) {
    set("title", "");
    set("time", "--:--");
    delete body.dataset.level;
    return;
  }
  set("title", item.title || T["control.rundown_untitled"]);
  const id = item.id;
  running = {
    id, socket: presenterSocket({
      timerId: id, token: token ?? "", rundown: config.rundown_id,
      onMessage: (message) => onTimer(id, message),
      onStatus: (status) => onStatus(id, status),
      onAck: (ok, error) => set("command-error", ok ? ""
        : fill(T["control.refused"], { message: error }, lang)),
    }),
  };
}

/**
 * @param {string} id the timer the message is of
 * @param {ServerMessage} message
 */
function onTimer(id, message) {
  if (running?.id !== id) return;
  if (message.type === "deleted") {
    timer = null;
    reload();
    return enable();
  }
  if (!message.timer || message.v < version) return;
  version = message.v;
  timer = message.timer;
  set("title", timer.title || T["control.rundown_untitled"]);
  room.show();
  enable();
  // A start, a pause or the end changes the list's actual times: read them again.
  if (message.type === "state") reload();
}

/**
 * @param {string} id
 * @param {ConnectionStatus} status
 */
function onStatus(id, status) {
  if (running?.id !== id) return;
  live = status === "live";
  const trying = status === "connecting" || status === "reconnecting";
  set("connection", live || trying ? T[STATUS_WORDS[status]] : "");
  body.dataset.connection = status;
  if (!live && !trying) set("command-error", T[STATUS_WORDS[status]]);
  enable();
}

/**
 * @param {string} name
 * @param {Record<string, unknown>} [fields]
 * @param {() => void} [then]
 */
function command(name, fields = {}, then) {
  if (!running || !running.socket.command(name, fields, then)) {
    set("command-error", T["control.reconnecting"]);
  }
}

const room = liveRoom(command, () => timer, set);

function enable() {
  enableCommands(document, timer, live);
  room.enable(live);
  const at = show && show.current ? show.items.findIndex((i) => i.id === show?.current) : -1;
  el("previous", HTMLButtonElement).disabled = !show || at <= 0;
  el("next", HTMLButtonElement).disabled = !show || (at >= 0 && show.next === null);
}

// -- drawing -------------------------------------------------------------------------------------

const fitTime = digitFitter(el("time"));

function frame() {
  if (timer && running) {
    const at = running.socket.connection.serverNow();
    const seen = progress(timer, at);
    const shown = shownClock(seen, lang);
    set("time", shown.text);
    fitTime(shown.text);
    set("days", shown.days ? daysLabel(shown.days, lang) : "");
    set("round", roundLabel(T, seen, timer, lang));
    set("state", seen.state === "overtime" ? T["control.overtime"]
      : startsAt(T, timer, at, lang) || T[`widget.${stateShown(seen)}`]);
    body.dataset.level = seen.level;
    body.dataset.state = seen.state;
    const primary = seen.state === "paused" ? "resume"
      : seen.state === "running" || seen.state === "overtime" ? "pause" : "start";
    for (const name of ["start", "pause", "resume"]) el(name).hidden = name !== primary;
    const planned = timer.total_ms;
    const share = timer.type === "event" || planned <= 0 ? 0
      : Math.min(1, Math.max(0, seen.remaining_ms / planned));
    el("bar").style.transform = `scaleX(${share})`;
  } else {
    set("state", "");
    set("round", "");
    set("days", "");
  }
  requestAnimationFrame(frame);
}

// -- buttons -------------------------------------------------------------------------------------

for (const name of ["start", "pause", "resume"]) {
  room.onTap(el(name, HTMLButtonElement), () => command(name));
}
room.onTap(el("previous", HTMLButtonElement), () => advance("previous"));
room.onTap(el("next", HTMLButtonElement), () => advance("next"));

/** @type {Record<string, string>} what Space does in each state */
const TOGGLE = { idle: "start", running: "pause", overtime: "pause", paused: "resume" };
/** @type {Record<string, string>} keys that move the show; clickers send Page Up and Down */
const MOVES = { ArrowRight: "next", PageDown: "next", ArrowLeft: "previous", PageUp: "previous" };
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target instanceof HTMLInputElement) return; // typing a message
  if (event.target instanceof HTMLButtonElement && (event.key === " " || event.key === "Enter")) {
    return; // a focused button answers these itself
  }
  const move = MOVES[event.key];
  const toggle = timer && TOGGLE[timer.state];
  if (move) el(move, HTMLButtonElement).click();
  else if (event.key === " " && toggle) command(toggle);
  else if (event.key === "b" || event.key === "B") el("blackout").click();
  else return;
  event.preventDefault();
});

// Another presenter link pasted into this tab differs only in its fragment.
addEventListener("hashchange", () => location.reload());

if (token) {
  connect({
    path: `/ws/rundowns/${encodeURIComponent(config.rundown_id)}`, auth: null, guess: null,
    greeting: "rundown",
    onMessage: (message) => {
      if (message.type === "rundown" && (!show || (message.rundown?.version ?? 0) > show.version)) {
        reload();
      }
    },
    onStatus: (status) => {
      body.dataset.show = status;
      if (status === "deleted" || status === "not_found") {
        set("nav-error", T["control.rundown_not_found"]);
      }
    },
  });
  reload();
  frame();
} else {
  set("notice", T["control.no_token"]);
  set("connection", "");
}
