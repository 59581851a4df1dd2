// @ts-check
// The time arithmetic of server/timers.py as the pages need it: from a timer as the server
// sent it (valid at its server_time) to what it is at any later instant. Pure, so it runs
// the same in a page and under `node --test`; tests/data/time_cases.json holds the cases
// that both this module and timers.py must agree on.

/** @typedef {"idle" | "running" | "paused" | "completed" | "overtime"} TimerState */
/** @typedef {"normal" | "warning" | "danger" | "overtime"} Level */
/** @typedef {"countdown" | "event" | "interval"} TimerType */
/** @typedef {"work" | "rest"} Phase */

/**
 * A timer as the server sends it (server/timer_json.py `public`), or as a standalone widget
 * makes one up: the fields the arithmetic reads, plus what the pages show.
 * @typedef {object} PublicTimer
 * @property {TimerType} type
 * @property {TimerState} state
 * @property {number} remaining_ms at server_time
 * @property {number} elapsed_ms running time at server_time, adjustments included
 * @property {number} total_ms running time at which the timer ends (with adjustments)
 * @property {number} server_time the server's clock (epoch ms) when it was valid
 * @property {number} [version]
 * @property {string} [title]
 * @property {number} [work] interval: seconds of work in a round
 * @property {number} [rest] interval: seconds of rest in a round
 * @property {number} [rounds] interval: how many rounds
 * @property {number} [duration] countdown: seconds
 * @property {number | null} [target_ms] event: the target (epoch ms), standalone widgets only
 * @property {string | null} [target_date] event: the target as given (ISO 8601)
 * @property {string} [timezone] event: the IANA zone its date is shown in
 * @property {string | null} [start_at] countdown, interval: when it starts by itself (ISO 8601
 *   with an offset), null for by hand
 * @property {boolean} [overtime] countdown, event: counts on below zero after completing
 * @property {number | null} [warn_at] seconds of remaining time at which it turns "warning"
 * @property {number | null} [danger_at] seconds of remaining time at which it turns "danger"
 * @property {string | null} [completed_at] when it reached zero (set in overtime too)
 * @property {{text: string, flash: boolean, at: string} | null} [message] for the people on
 *   stage
 * @property {boolean} [blackout] every display of the timer shows only black
 */

/**
 * A timer at one instant: the fields of the API's own progress (timers.progress), and what
 * a clock shows of it.
 * @typedef {object} Progress
 * @property {TimerState} state
 * @property {number} remaining_ms until the timer ends (below zero in overtime)
 * @property {Level} level what the remaining time means now (timers.level)
 * @property {number | null} round an interval's round, from 1
 * @property {Phase | null} phase an interval's phase; null once it has completed
 * @property {number} shown_ms what the digits show: an interval's time left in its phase
 */

/**
 * `timer` seen at server time `at` (epoch ms, at or after timer.server_time).
 * @param {PublicTimer} timer
 * @param {number} at
 * @returns {Progress}
 */
export function progress(timer, at) {
  const state = timer.state;
  const counting = state === "running" || state === "overtime";
  // An event counts to its date whatever its state; the others run only while counting.
  const passes = counting || (timer.type === "event" && state !== "completed");
  const passed = passes ? Math.max(0, at - timer.server_time) : 0;
  // Below zero only with overtime, and for an event only while it counts.
  const floor = timer.overtime && (timer.type !== "event" || counting) ? -Infinity : 0;
  const remaining = state === "completed" ? 0 : Math.max(floor, timer.remaining_ms - passed);
  const out = { state, remaining_ms: remaining, level: level(timer, remaining), round: null,
                phase: null, shown_ms: remaining };
  if (timer.type !== "interval") return out;
  const rounds = timer.rounds ?? 1;
  const work = (timer.work ?? 0) * 1000;
  const cycle = work + (timer.rest ?? 0) * 1000;
  const base = rounds * cycle;
  if (state === "completed") return { ...out, round: rounds };
  // Where the schedule is: running time less the adjustments, which total_ms carries exactly
  // (it is the schedule's length plus them).
  const elapsed = Math.min(timer.elapsed_ms + passed, timer.total_ms);
  const position = Math.min(Math.max(0, elapsed - (timer.total_ms - base)), base - 1);
  const inCycle = position % cycle;
  /** @type {Phase} */
  const phase = inCycle < work ? "work" : "rest";
  return {
    ...out, round: Math.floor(position / cycle) + 1, phase,
    shown_ms: Math.min(remaining, (phase === "work" ? work : cycle) - inCycle),
  };
}

/**
 * What `remaining` means for `timer` (timers.level): overtime past zero, else the deepest
 * threshold it is at or below.
 * @param {PublicTimer} timer
 * @param {number} remaining
 * @returns {Level}
 */
function level(timer, remaining) {
  if (timer.state === "overtime" || remaining < 0
      || (timer.state === "paused" && timer.completed_at)) return "overtime";
  if (timer.danger_at != null && remaining <= timer.danger_at * 1000) return "danger";
  if (timer.warn_at != null && remaining <= timer.warn_at * 1000) return "warning";
  return "normal";
}

/**
 * Whole seconds as people read them (timers.seconds): 0.2 s left still shows as 1.
 * @param {number} ms
 */
export function seconds(ms) {
  return Math.ceil(ms / 1000);
}
