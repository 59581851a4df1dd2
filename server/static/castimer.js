// @ts-check
// What the pages share: one clock, the live connection to a timer or a show (clock offset from
// ping/pong, reconnects), the page's config, and the ways a timer is put into words and
// buttons. The arithmetic itself is time.js.
import { seconds } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./time.js").Progress} Progress */
/** @typedef {Record<string, string>} Catalog the page's texts, by catalog key */

/**
 * A message of the timer's socket (docs/websockets.md); pongs are the connection's own.
 * @typedef {object} ServerMessage
 * @property {"snapshot" | "tick" | "state" | "deleted" | "ack" | "presence" | "rundown"} type
 * @property {number} v the timer's version
 * @property {number} server_time
 * @property {PublicTimer} [timer] every message but deleted, ack and presence
 * @property {number} [viewers] presence: the timer's open viewer sockets, every process's
 * @property {string[]} [events] state: the events of the change
 * @property {number} [req] ack: the command's own req
 * @property {boolean} [ok] ack: whether the command was accepted
 * @property {{message: string}} [error] ack: why not
 * @property {{version: number}} [rundown] a rundown's socket (/ws/rundowns/{id}): the show
 */

/**
 * @typedef {"connecting" | "reconnecting" | "live" | "unauthorized" | "forbidden" |
 *           "not_found" | "deleted"} ConnectionStatus
 */

// Monotonic, in epoch-like ms: wall-clock jumps on this machine do not move a running timer.
let origin = Date.now() - performance.now();

/** This machine's clock, monotonic, in epoch ms. */
export function now() {
  return origin + performance.now();
}

/** @type {Record<number, ConnectionStatus>} close codes after which reconnecting cannot help */
const FINAL = { 4401: "unauthorized", 4403: "forbidden", 4404: "not_found", 4410: "deleted" };
const SAMPLES = 8; // offset samples kept: a window, so a changed clock is learnt again
// Clocks drift by milliseconds an hour; at 10,000 viewers this is ~330 pings a second.
const PING_EVERY = 30000;

/**
 * @typedef {object} ConnectOptions
 * @property {string} path /ws/…
 * @property {object | null} auth the first message, or null
 * @property {number | null} guess an offset to use until the socket says better
 * @property {(message: ServerMessage) => void} onMessage every server message but pongs
 * @property {(status: ConnectionStatus) => void} onStatus
 * @property {string} [greeting] the first message's type, if not snapshot
 */

/**
 * @typedef {object} Connection
 * @property {(message: object) => boolean} send false when the socket is not open
 * @property {() => number} serverNow our estimate of the server's clock now
 * @property {() => number | null} syncError half the best round trip: the most the offset
 *   can be wrong by (null before a pong)
 * @property {() => void} close
 */

/**
 * The live stream of one timer.
 * @param {ConnectOptions} options
 * @returns {Connection}
 */
export function connect(options) {
  /** @type {WebSocket | null} */
  let ws = null;
  let attempt = 0;
  /** @type {{rtt: number, offset: number}[]} */
  let samples = [];
  /** @type {{offset: number, error: number | null} | null} server's clock minus ours, ± error */
  let estimate = options.guess === null ? null : { offset: options.guess, error: null };
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let pinger;
  let stopped = false;

  /** @param {object} message */
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function ping() {
    send({ type: "ping", t: now() });
  }

  // NTP-style: the pong's server_time was read about half a round trip after we sent `t`.
  // The sample with the shortest round trip has the smallest possible error.
  /** @param {{t: number, server_time: number}} pong */
  function learn(pong) {
    const rtt = now() - pong.t;
    if (!(rtt >= 0)) return;
    samples.push({ rtt, offset: pong.server_time - (pong.t + rtt / 2) });
    if (samples.length > SAMPLES) samples.shift();
    const best = samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    estimate = { offset: best.offset, error: best.rtt / 2 };
  }

  function open() {
    // A new connection may reach another process, and a computer that slept may have
    // paused the monotonic clock: learn the offset afresh, from a fresh anchor.
    samples = [];
    origin = Date.now() - performance.now();
    options.onStatus(attempt ? "reconnecting" : "connecting");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + options.path);
    ws = socket;
    socket.onopen = () => {
      if (options.auth) send(options.auth);
      // A few quick samples at first, then a steady trickle far below the rate limit.
      for (const delay of [0, 200, 400, 600]) setTimeout(ping, delay);
      pinger = setInterval(ping, PING_EVERY);
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "pong") return learn(message);
      if (message.type === (options.greeting ?? "snapshot")) {
        attempt = 0;
        // Until a pong arrives, assume the snapshot took no time to get here.
        if (samples.length === 0) estimate = { offset: message.server_time - now(), error: null };
        options.onStatus("live");
      }
      options.onMessage(message);
    };
    socket.onclose = (event) => {
      clearInterval(pinger);
      if (stopped) return;
      const final = FINAL[event.code];
      if (final) return options.onStatus(final);
      // Jittered exponential backoff: a restarted server is not hit by every viewer at once.
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random());
      attempt += 1;
      options.onStatus("reconnecting");
      setTimeout(open, delay);
    };
  }

  open();
  return {
    send,
    serverNow: () => now() + (estimate ? estimate.offset : 0),
    syncError: () => (estimate ? estimate.error : null),
    close: () => {
      stopped = true;
      if (ws) ws.close();
    },
  };
}

/**
 * The page's config, as the server wrote it into the page (#castimer-config).
 * @template T
 * @returns {T}
 */
export function readConfig() {
  return JSON.parse(el("castimer-config").textContent ?? "null");
}

/**
 * The element with this id, of the kind the page's template promises (checked: a template
 * that changed says so at once instead of failing later on a null).
 * @template {HTMLElement} E
 * @param {string} id
 * @param {new () => E} [kind] HTMLElement unless given
 * @returns {E}
 */
export function el(id, kind) {
  const node = document.getElementById(id);
  const wanted = kind ?? HTMLElement;
  if (!(node instanceof wanted)) throw new Error(`#${id} is not a ${wanted.name} in this page`);
  return /** @type {E} */ (node);
}

/**
 * A setter of texts that touches an element only when its text changes: pages redraw every
 * animation frame. Texts stay text (titles are untrusted).
 * @param {(key: string) => HTMLElement | null} find the element a key names
 * @param {{hideEmpty: boolean}} options hideEmpty: an element with no text is hidden
 * @returns {(key: string, text: string) => void}
 */
export function textSetter(find, { hideEmpty }) {
  /** @type {Map<string, string>} */
  const shown = new Map();
  return (key, text) => {
    if (shown.get(key) === text) return;
    shown.set(key, text);
    const node = find(key);
    if (!node) return;
    node.textContent = text;
    if (hideEmpty) node.hidden = text === "";
  };
}

/**
 * Set the data-* attributes of `node` whose values changed: pages redraw every frame, and an
 * attribute written again is a mutation (and a style check) even when its value is the same.
 * @param {HTMLElement} node
 * @param {Record<string, string>} values
 */
export function mark(node, values) {
  for (const [name, value] of Object.entries(values)) {
    if (node.dataset[name] !== value) node.dataset[name] = value;
  }
}

// Intl formatters are slow to build and drawn with every frame: one of each per language.
/** @type {Map<string, Intl.NumberFormat>} */
const formatters = new Map();
/**
 * @param {string} lang
 * @param {string} name
 * @param {Intl.NumberFormatOptions} options
 */
function formatter(lang, name, options) {
  const key = `${lang} ${name}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.NumberFormat(lang, options);
    formatters.set(key, format);
  }
  return format;
}

/**
 * "05:00", "1:05:00"; days apart (the caller words them with daysLabel).
 * @param {number} totalSeconds
 * @param {string} lang
 * @returns {{days: number, text: string}}
 */
export function clock(totalSeconds, lang) {
  const two = formatter(lang, "two", { minimumIntegerDigits: 2, useGrouping: false });
  const one = formatter(lang, "one", { useGrouping: false });
  const days = Math.floor(totalSeconds / 86400);
  const rest = totalSeconds - days * 86400;
  const h = Math.floor(rest / 3600);
  const m = Math.floor((rest % 3600) / 60);
  const s = rest % 60;
  const hours = h || days ? `${(days ? two : one).format(h)}:` : "";
  return { days, text: `${hours}${two.format(m)}:${two.format(s)}` };
}

/**
 * What the digits show of `seen`: in overtime the time past zero, counting up behind a minus
 * sign.
 * @param {Progress} seen
 * @param {string} lang
 */
export function shownClock(seen, lang) {
  const shown = clock(Math.abs(seconds(seen.shown_ms)), lang);
  return seen.level === "overtime" ? { ...shown, text: `−${shown.text}` } : shown;
}

/**
 * "3 days", in the language's words.
 * @param {number} days
 * @param {string} lang
 */
export function daysLabel(days, lang) {
  return formatter(lang, "days", { style: "unit", unit: "day", unitDisplay: "long" })
    .format(days);
}

/**
 * "{round} of {rounds}" → text, with numbers in the language's own digits.
 * @param {string} template
 * @param {Record<string, string | number | null | undefined>} values
 * @param {string} lang
 */
export function fill(template, values, lang) {
  const number = formatter(lang, "number", {});
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    const value = values[name];
    return typeof value === "number" ? number.format(value) : String(value);
  });
}

/**
 * "Round 2 of 8 · Rest", or "" for a timer without rounds.
 * @param {Catalog} text the catalog with the widget.* texts
 * @param {Progress} seen
 * @param {PublicTimer} timer
 * @param {string} lang
 */
export function roundLabel(text, seen, timer, lang) {
  if (!seen.round) return "";
  const round = fill(text["widget.round"], { round: seen.round, rounds: timer.rounds }, lang);
  return seen.phase ? `${round} · ${text[`widget.${seen.phase}`]}` : round;
}

/**
 * The state to word: a running timer at zero is over, though its completion is still on the
 * way from the server.
 * @param {Progress} seen
 */
export function stateShown(seen) {
  return seen.remaining_ms === 0 ? "completed" : seen.state;
}

/**
 * The share of its time (of an interval's phase) the timer has left, 0 to 1, for a bar.
 * @param {Progress} seen
 * @param {PublicTimer} timer
 */
export function left(seen, timer) {
  const whole = timer.type === "interval"
    ? (seen.phase === "rest" ? timer.rest ?? 0 : timer.work ?? 0) * 1000 : timer.total_ms;
  return whole > 0 ? Math.min(1, Math.max(0, seen.shown_ms / whole)) : 0;
}

/**
 * A live timer as a read-only page follows it over its viewer socket.
 * @typedef {object} LiveTimer
 * @property {PublicTimer} timer the newest state (a message older than it is ignored)
 * @property {number} version
 * @property {string | null} status the connection's status; "deleted" once the timer is gone
 * @property {() => number} serverNow our estimate of the server's clock now
 * @property {HTMLElement | null} root gets the status as data-connection
 * @property {() => void} close
 */

/**
 * Follow the timer the page was served (`first`) over its viewer socket, as the widget and the
 * stage display do. A deleted timer is left idle, with no message and no blackout: nothing of
 * it is left to show. `onNews` hears each message that changed what `live` holds.
 * @param {string} timerId
 * @param {PublicTimer} first
 * @param {HTMLElement | null} root
 * @param {(message: ServerMessage) => void} [onNews]
 * @returns {LiveTimer}
 */
export function followLive(timerId, first, root, onNews) {
  /** @type {LiveTimer} */
  const live = { timer: first, version: first.version ?? 0, status: null, serverNow: now, root,
                 close: () => connection.close() };
  const connection = connect({
    path: `/ws/timers/${encodeURIComponent(timerId)}`, auth: null,
    guess: first.server_time - now(),
    onMessage: (message) => {
      if (message.type === "deleted") {
        live.timer = { ...live.timer, state: "idle", message: null, blackout: false };
        live.status = "deleted";
      } else if (message.timer && message.v >= live.version) {
        live.version = message.v;
        live.timer = message.timer;
      } else {
        return;
      }
      onNews?.(message);
    },
    onStatus: (next) => {
      live.status = next === "not_found" ? "deleted" : next;
      if (live.root) live.root.dataset.connection = live.status;
    },
  });
  live.serverNow = connection.serverNow;
  return live;
}

// -- a scheduled start -----------------------------------------------------------------------

// What the server's datetime.fromisoformat reads of a date-time with an offset, extended or
// basic: 2026-12-03T14:00:00+01:00, 20261203T1400Z, 2026-12-03 14:00:00.5+0530, …T14+01.
// (Week and ordinal dates, which it reads too, are left out: no page writes them.)
const OFFSET_DATE = new RegExp(String.raw`^(\d{4})-?(\d\d)-?(\d\d)[T ](\d\d)`
  + String.raw`(?::?(\d\d)(?::?(\d\d)(?:[.,](\d{1,6}))?)?)?`
  + String.raw`(?:(Z)|([+-])(\d\d)(?::?(\d\d)(?::?(\d\d)(?:\.\d+)?)?)?)$`, "i");

/**
 * An ISO 8601 date-time with an offset or Z: the instant, and the offset it was written in.
 * @param {string} iso
 * @returns {{ms: number, offset_ms: number} | null} null for what it cannot read
 */
export function offsetDate(iso) {
  const m = OFFSET_DATE.exec(iso.trim());
  if (!m) return null;
  const n = (/** @type {string | undefined} */ part) => Number(part ?? 0);
  const fraction = Math.floor(Number(`0.${m[7] ?? 0}`) * 1000);
  const wall = Date.UTC(n(m[1]), n(m[2]) - 1, n(m[3]), n(m[4]), n(m[5]), n(m[6]), fraction);
  const offset = m[8] ? 0 : (m[9] === "-" ? -1 : 1)
    * ((n(m[10]) * 60 + n(m[11])) * 60 + n(m[12])) * 1000;
  return Number.isNaN(wall) ? null : { ms: wall - offset, offset_ms: offset };
}

/** @type {Map<string, Intl.DateTimeFormat>} */
const dateFormatters = new Map();
/**
 * A date formatter for a zone this browser knows (knownZone), made once.
 * @param {string} lang
 * @param {string} zone
 * @param {Intl.DateTimeFormatOptions} options
 */
function dateFormatter(lang, zone, options) {
  const key = `${lang} ${zone} ${JSON.stringify(options)}`;
  let format = dateFormatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(lang, { ...options, timeZone: zone });
    dateFormatters.set(key, format);
  }
  return format;
}

/** @param {string} zone an IANA name; false for one this browser does not know */
function knownZone(zone) {
  try {
    dateFormatter("en", zone, {});
    return true;
  } catch {
    return false;
  }
}

/**
 * The calendar day of `ms` in `zone`: "2026-12-3".
 * @param {string} zone
 * @param {number} ms
 */
function dayOf(zone, ms) {
  const parts = dateFormatter("en", zone, { year: "numeric", month: "numeric", day: "numeric" })
    .formatToParts(ms);
  return ["year", "month", "day"].map((type) => parts.find((p) => p.type === type)?.value)
    .join("-");
}

/**
 * When a scheduled start is, in the page's language: "Starts at 14:00", or with the date
 * ("Starts on Dec 3 at 2:00 PM") when that is not today there. "There" is the timer's
 * `timezone` when it has one, else the offset start_at was written with: the hour its
 * organiser meant, whatever this screen's own zone is.
 * @param {Catalog} text the catalog with widget.starts_at and widget.starts_on
 * @param {PublicTimer} timer
 * @param {number} at the server's clock now (epoch ms): what "today" is
 * @param {string} lang
 * @returns {string} "" for a timer with no start scheduled (or one not idle)
 */
export function startsAt(text, timer, at, lang) {
  const start = timer.state === "idle" && timer.start_at ? offsetDate(timer.start_at) : null;
  if (!start) return "";
  const own = timer.timezone && knownZone(timer.timezone) ? timer.timezone : null;
  // Wall-clock time in a fixed offset is UTC's, shifted by that offset.
  const zone = own ?? "UTC";
  const shift = own ? 0 : start.offset_ms;
  const when = start.ms + shift;
  const time = dateFormatter(lang, zone, { timeStyle: "short" }).format(when);
  const [day, today] = [dayOf(zone, when), dayOf(zone, at + shift)];
  if (day === today) return fill(text["widget.starts_at"], { time }, lang);
  /** @type {Intl.DateTimeFormatOptions} */
  const dated = { month: "short", day: "numeric" };
  if (day.slice(0, 4) !== today.slice(0, 4)) dated.year = "numeric";
  const date = dateFormatter(lang, zone, dated).format(when);
  return fill(text["widget.starts_on"], { date, time }, lang);
}

/**
 * The words under a viewer's digits (catalog widget.*): a lost connection, the end, overtime,
 * a pause, a scheduled start or a timer not started; nothing while it simply runs.
 * @param {Catalog} text
 * @param {Progress} seen
 * @param {string | null} status the connection's status (deleted for a timer gone)
 * @param {string} [starts] the timer's scheduled start in words (startsAt), "" for none
 */
export function viewerStatus(text, seen, status, starts = "") {
  if (status === "reconnecting" || status === "deleted") return text[`widget.${status}`];
  const state = stateShown(seen);
  if (state === "completed") return text["widget.completed"];
  if (seen.level === "overtime") return text["widget.overtime"];
  if (state === "idle" && starts) return starts;
  return state === "paused" || state === "idle" ? text[`widget.${state}`] : "";
}
