// @ts-check
// The stage display: one live timer in the whole window, for a stage monitor, a confidence
// monitor or an OBS browser source. Read-only, as the widget is: it opens the viewer socket
// and draws every animation frame from the last message and the server's clock (the offset
// learnt by castimer.js), so it agrees with every other screen of the timer. For a rundown
// (/stage/rnd_…) it draws the show's current timer, and says which one of the show it is.
import {
  daysLabel, el, followLive, left, mark, readConfig, roundLabel, shownClock, startsAt,
  stateShown, textSetter, viewerStatus,
} from "./castimer.js";
import { followRundown } from "./rundown.js";
import { progress } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./time.js").Progress} Progress */

/**
 * pages.py `stage`: a timer's display, or a rundown's (its timer as in ShowConfig)
 * @typedef {object} StageOptions
 * @property {string} lang
 * @property {boolean} clock show the time of day
 * @property {Record<string, string>} text
 */
/**
 * @typedef {StageOptions & ({rundown: null, timer_id: string, timer: PublicTimer} |
 *                           import("./rundown.js").ShowConfig)} StageConfig
 */

/** @type {StageConfig} */
const config = readConfig();
const T = config.text;
const lang = config.lang;
const root = el("stage");
const digits = el("digits");
const time = el("time");
const message = el("message");
const fill = document.getElementById("fill"); // absent with progress=0
const set = textSetter((id) => document.getElementById(id), { hideEmpty: true });
// The live timer drawn: the one timer, or the show's current one (with the show's words).
const source = config.rundown ? followRundown(config, root)
  : { live: followLive(config.timer_id, config.timer, root), line: "", words: "" };
// What the frame being drawn shows: the live timer and its connection, as of that frame.
let timer = source.live.timer;
/** @type {string | null} */
let status = null;
let shownTime = "";
// A message this long is set smaller, so the digits keep most of the screen.
const LONG_MESSAGE = 60;

// The digits as large as the space left to them allows, measured rather than guessed: fonts'
// digits differ in width, and the title, message and status take what they need first.
function fit() {
  const space = digits.getBoundingClientRect();
  time.style.fontSize = "100px";
  const text = time.getBoundingClientRect();
  if (!text.width || !text.height) return;
  const size = Math.min(space.width * 0.96 / text.width, space.height / text.height) * 100;
  time.style.fontSize = `${Math.max(1, Math.floor(size))}px`;
}

// The time of day in the timer's timezone (an event's; else this screen's own), by the
// server's clock: a stage computer's clock may be off.
let dayClock = { zone: "", format: new Intl.DateTimeFormat(lang, { timeStyle: "medium" }) };
/** @param {number} at server time */
function timeOfDay(at) {
  if (!config.clock) return "";
  const zone = timer.timezone ?? "";
  if (zone !== dayClock.zone) {
    /** @type {Intl.DateTimeFormatOptions} */
    const options = { timeStyle: "medium" };
    let format;
    try {
      format = new Intl.DateTimeFormat(lang, zone ? { ...options, timeZone: zone } : options);
    } catch {
      format = new Intl.DateTimeFormat(lang, options); // a zone this browser does not know
    }
    dayClock = { zone, format };
  }
  return dayClock.format.format(at);
}

/**
 * @param {Progress} seen
 * @param {number} at
 */
function render(seen, at) {
  const shown = shownClock(seen, lang);
  set("title", timer.title ?? "");
  set("rundown", source.line);
  set("clock", timeOfDay(at));
  set("days", shown.days ? daysLabel(shown.days, lang) : "");
  const resized = shownTime.length !== shown.text.length;
  shownTime = shown.text;
  set("time", shown.text);
  if (resized) fit();
  set("round", roundLabel(T, seen, timer, lang));
  set("status", source.words || viewerStatus(T, seen, status, startsAt(T, timer, at, lang)));
  const text = timer.message?.text ?? "";
  set("message", text);
  message.toggleAttribute("data-long", text.length > LONG_MESSAGE);
  if (fill) fill.style.transform = `scaleX(${left(seen, timer).toFixed(4)})`;
  mark(root, { state: stateShown(seen), level: seen.level });
  root.toggleAttribute("data-flash", timer.message?.flash === true);
  document.body.toggleAttribute("data-blackout", timer.blackout === true);
}

function frame() {
  ({ timer, status } = source.live);
  const at = source.live.serverNow();
  render(progress(timer, at), at);
  requestAnimationFrame(frame);
}

// Whatever changes the digits' space (the window, a message, the status) sizes them afresh.
new ResizeObserver(fit).observe(digits);
frame();
