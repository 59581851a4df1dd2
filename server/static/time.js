// @ts-check
// The time arithmetic of server/timers.py as the pages need it: from a timer as the server
// sent it (valid at its server_time) to what it is at any later instant. Pure, so it runs
// the same in a page and under `node --test`; tests/data/time_cases.json holds the cases
// that both this module and timers.py must agree on.

/** @typedef {"idle" | "running" | "paused" | "completed"} TimerState */
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
 */

/**
 * A timer at one instant: the fields of the API's own progress (timers.progress), and what
 * a clock shows of it.
 * @typedef {object} Progress
 * @property {TimerState} state
 * @property {number} remaining_ms until the timer ends
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
  // An event counts to its date whatever its state; the others run only while running.
  const passes = state === "running" || (timer.type === "event" && state !== "completed");
  const passed = passes ? Math.max(0, at - timer.server_time) : 0;
  const remaining = state === "completed" ? 0 : Math.max(0, timer.remaining_ms - passed);
  const out = { state, remaining_ms: remaining, round: null, phase: null, shown_ms: remaining };
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
 * Whole seconds as people read them (timers.seconds): 0.2 s left still shows as 1.
 * @param {number} ms
 */
export function seconds(ms) {
  return Math.ceil(ms / 1000);
}
