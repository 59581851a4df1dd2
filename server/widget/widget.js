// @ts-check
// The widget: a standalone timer running in the page, or a live timer that follows the server.
// Every animation frame is drawn from the authoritative state (the live timer's last message,
// or the standalone timer's start) and the clock, never by counting down a local variable, so
// it neither freezes between ticks nor drifts from other viewers.
import {
  daysLabel, el, followLive, left, mark, now, readConfig, roundLabel, shownClock, startsAt,
  stateShown, textSetter, viewerStatus,
} from "../static/castimer.js";
import { progress } from "../static/time.js";

/** @typedef {import("../static/time.js").PublicTimer} PublicTimer */
/** @typedef {import("../static/time.js").Progress} Progress */
/** @typedef {import("../static/castimer.js").ServerMessage} ServerMessage */

/**
 * A timer given by the widget's parameters alone (pages.py `_standalone`).
 * @typedef {object} StandaloneTimer
 * @property {"countdown" | "event" | "interval"} type
 * @property {string} title
 * @property {number} duration
 * @property {number | null} target_ms
 * @property {string} timezone
 * @property {number} work
 * @property {number} rest
 * @property {number} rounds
 */

/**
 * @typedef {object} Options
 * @property {string} lang
 * @property {string | null} fixed_title a title from the URL, which wins over the timer's
 * @property {boolean} show_title
 * @property {boolean} show_date
 * @property {boolean} alarm
 * @property {Record<string, string>} text
 */
/**
 * @typedef {Options & ({live: true, timer_id: string, timer: PublicTimer, rundown?: null} |
 *   import("../static/rundown.js").ShowConfig & {live: true} |
 *   {live: false, timer_id: null, timer: StandaloneTimer, rundown?: null})} WidgetConfig
 */

/** @type {WidgetConfig} */
const config = readConfig();
const T = config.text;
const lang = config.lang;
const root = el("timer");
const time = el("time");
const fill = el("fill");
const set = textSetter((id) => document.getElementById(id), { hideEmpty: true });
/** @type {PublicTimer} */
let timer = config.live ? config.timer : begin(config.timer);
let version = timer.version ?? 0;
let shownTime = "";
/** @type {string | null} */
let status = null;
/** @type {number | null} */
let lastRound = null;
let finished = timer.state === "completed";

// The host page hears every event of the timer (source "castimer"), whatever its origin:
// the widget shows nothing that is not public to anyone holding the URL.
/**
 * @param {string} event
 * @param {Progress} seen
 */
function tell(event, seen) {
  if (window.parent === window) return;
  window.parent.postMessage({
    source: "castimer", event, timer_id: source?.timerId ?? null, state: seen.state,
    remaining_ms: Math.round(seen.remaining_ms), round: seen.round, phase: seen.phase,
    level: seen.level, message: timer.message ?? null, v: version,
  }, "*");
}

// A few beeps made by Web Audio: no sound file to fetch. Browsers may hold audio back
// until someone interacts with the page (or the host delegates autoplay to the iframe);
// then data-alarm says "blocked" and the first tap plays it.
function alarm() {
  /** @type {typeof AudioContext | undefined} */
  const Context = window.AudioContext
    ?? /** @type {{webkitAudioContext?: typeof AudioContext}} */ (window).webkitAudioContext;
  if (!config.alarm || !Context) return;
  const audio = new Context();
  let played = false;
  const play = () => {
    if (played || audio.state !== "running") return;
    played = true;
    const start = audio.currentTime + 0.05;
    for (let i = 0; i < 6; i++) {
      const at = start + i * 0.4 + (i % 2 ? -0.2 : 0);
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.16);
    }
    document.body.dataset.alarm = "playing";
    setTimeout(() => audio.close(), 3500);
  };
  if (audio.state === "running") return play();
  document.body.dataset.alarm = "blocked";
  audio.resume().then(play);
  document.addEventListener("pointerdown", () => audio.resume().then(play), { once: true });
}

// Size the time for its number of characters, then shrink it if this font still overflows.
function fit() {
  time.style.setProperty("--chars", String(time.textContent?.length ?? 0));
  time.style.setProperty("--fit", "1");
  if (time.scrollWidth > time.clientWidth) {
    time.style.setProperty("--fit", (time.clientWidth / time.scrollWidth * 0.98).toFixed(3));
  }
}

// The event's date in its own timezone, worded for the language (formatted once per
// target, not every frame).
let dated = { key: "", text: "" };
function targetDate() {
  if (timer.type !== "event" || !config.show_date) return "";
  const target = timer.target_ms || Date.parse(timer.target_date ?? "");
  const zone = timer.timezone || "UTC";
  if (dated.key !== `${target} ${zone}`) {
    /** @type {Intl.DateTimeFormatOptions} */
    const options = { dateStyle: "full", timeStyle: "short", timeZone: zone };
    let format;
    try {
      format = new Intl.DateTimeFormat(lang, options);
    } catch {
      format = new Intl.DateTimeFormat(lang, { ...options, timeZone: "UTC" }); // unknown zone
    }
    dated = { key: `${target} ${zone}`, text: format.format(target) };
  }
  return dated.text;
}

/**
 * @param {Progress} seen
 * @param {number} at the clock the frame is drawn by
 */
function render(seen, at) {
  const shown = shownClock(seen, lang);
  const title = config.fixed_title ?? timer.title ?? "";
  set("rundown", source?.line ?? "");
  set("title", config.show_title ? title : "");
  set("date", targetDate());
  set("days", shown.days ? daysLabel(shown.days, lang) : "");
  const resized = shownTime.length !== shown.text.length;
  shownTime = shown.text;
  set("time", shown.text);
  if (resized) fit();
  set("round", roundLabel(T, seen, timer, lang));
  set("status", source?.words || viewerStatus(T, seen, status, startsAt(T, timer, at, lang)));
  set("message", timer.message?.text ?? "");
  fill.style.transform = `scaleX(${left(seen, timer).toFixed(4)})`;
  mark(root, { state: stateShown(seen), phase: seen.phase ?? "", level: seen.level });
  root.toggleAttribute("data-flash", timer.message?.flash === true);
  document.body.toggleAttribute("data-blackout", timer.blackout === true);
}

// Standalone timers keep their own events: round ends and the completion.
/** @param {Progress} seen */
function follow(seen) {
  if (timer.type === "interval" && lastRound !== null && (seen.round ?? 0) > lastRound) {
    tell("interval.round_end", seen);
  }
  lastRound = seen.round;
  if (!finished && seen.remaining_ms === 0) {
    finished = true;
    timer = { ...timer, state: "completed", remaining_ms: 0 };
    const over = { ...seen, state: /** @type {const} */ ("completed") };
    if (timer.type === "interval") {
      tell("interval.round_end", over); // the last round ends too, as on the server
      tell("interval.completed", over);
    }
    tell("timer.completed", over);
    alarm();
  }
}

/**
 * A standalone timer, started now: an event already past is simply over, with nothing
 * started and nothing to ring for.
 * @param {StandaloneTimer} given
 * @returns {PublicTimer}
 */
function begin(given) {
  const total = given.type === "interval" ? given.rounds * (given.work + given.rest) * 1000
    : given.type === "event" ? Math.max(0, (given.target_ms ?? 0) - Date.now())
      : given.duration * 1000;
  return { ...given, state: total === 0 ? "completed" : "running", server_time: now(),
           remaining_ms: total, elapsed_ms: 0, total_ms: total };
}

/**
 * What a live timer's news means for the host page (and the alarm).
 * @param {ServerMessage} message
 */
function onNews(message) {
  catchUp();
  if (message.type === "deleted") {
    tell("timer.deleted", progress(timer, message.server_time));
    return;
  }
  if (message.type !== "state") return;
  const seen = progress(timer, message.server_time);
  for (const name of message.events ?? []) {
    tell(name, seen);
    if (name === "timer.completed") alarm();
  }
}

/**
 * The live timer drawn: the one timer, or a rundown's current one with the show's words
 * (rundown.js, loaded only then).
 * @type {{live: import("../static/castimer.js").LiveTimer, timerId?: string | null, line?: string, words?: string} | null}
 */
const source = config.rundown
  ? (await import("../static/rundown.js")).followRundown(config, root, onNews)
  : config.live ? { live: followLive(config.timer_id, config.timer, root, onNews),
                    timerId: config.timer_id } : null;
/** Brings `timer`, `version` and `status` up to the live timer's. */
function catchUp() {
  if (source) ({ timer, version, status } = source.live);
}
/** @type {() => number} the clock the timer is drawn by */
const clockNow = source ? () => source.live.serverNow() : now;
if (!source && !finished) tell("timer.started", progress(timer, now()));

function frame() {
  catchUp();
  const at = clockNow();
  const seen = progress(timer, at);
  if (!config.live) follow(seen);
  render(seen, at);
  requestAnimationFrame(frame);
}

addEventListener("resize", fit);
frame();
