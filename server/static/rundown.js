// @ts-check
// A rundown's viewers (the widget's ?rundown=, the stage display's /stage/rnd_…) follow the
// show's current timer. The rundown's socket (/ws/rundowns/{id}) says which timer that is;
// each timer is followed over its own viewer socket by followLive, as a one-timer page follows
// it, and the next timer's socket is open while the show is still on the one before: at an
// advance the page swaps to a state it already holds, in the frame the rundown's news arrives
// in, with no round trip. Only pages that follow a rundown load this module.
import { connect, fill, followLive, now } from "./castimer.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./castimer.js").LiveTimer} LiveTimer */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").Catalog} Catalog */

/**
 * A rundown as anyone holding its id sees it (server/commit.py `public_rundown`).
 * @typedef {object} PublicRundown
 * @property {string} id
 * @property {string} title
 * @property {string[]} timers the show's timers, in order
 * @property {string | null} current the timer the show is on; null for none
 * @property {string | null} next the one after it; null at the end (or on none)
 * @property {boolean} auto_advance
 * @property {number} version
 * @property {string | null} completed_at
 */

/**
 * A message of the rundown's socket (server/rundown_ws.py).
 * @typedef {object} RundownMessage
 * @property {"rundown" | "deleted"} type
 * @property {PublicRundown} [rundown] every message but deleted
 * @property {number} server_time
 */

/**
 * The show as a page draws it, frame by frame.
 * @typedef {object} Show
 * @property {PublicRundown} rundown the newest
 * @property {"on" | "waiting" | "deleted"} state on a timer, on none, or the rundown is gone
 * @property {string | null} timerId the timer drawn: null while waiting or deleted
 * @property {LiveTimer} live what to draw: the current timer; while waiting or deleted, the
 *   last one drawn, idle, with nothing on it and the rundown's title
 * @property {string | null} status the rundown's connection status ("deleted" once it is gone)
 * @property {string} line "Morning show · 2 of 5" ("2 of 5" for a rundown without a title);
 *   "" while on no timer, when the rundown's title stands in the timer's
 * @property {string} words what to say in place of the timer's own words (viewerStatus): the
 *   show waiting or gone, the rundown's connection lost; "" when the timer's words stand
 */

/**
 * What a page following a rundown was served (pages.py): the rundown, the timer it was on
 * (null: on none) and that timer's state (for none, a blank with the rundown's title).
 * @typedef {object} ShowConfig
 * @property {PublicRundown} rundown
 * @property {string | null} timer_id
 * @property {PublicTimer} timer
 * @property {Catalog} text with the widget.* and show.* texts
 * @property {string} lang
 */

/**
 * A timer that no socket moves: what a show on no timer (or a deleted one) draws.
 * @param {PublicTimer} timer
 * @param {() => number} serverNow
 * @returns {LiveTimer}
 */
function still(timer, serverNow) {
  return { timer, version: 0, status: null, serverNow, root: null, close: () => {} };
}

/**
 * Follow the rundown a page was served. The root element gets the connection's status
 * (data-connection) and the show's state (data-show); `onNews` hears each message of the
 * timer drawn that changed it.
 * @param {ShowConfig} config
 * @param {HTMLElement} root
 * @param {(message: ServerMessage) => void} [onNews]
 * @returns {Show}
 */
export function followRundown(config, root, onNews) {
  const T = config.text;
  /** @type {Map<string, LiveTimer>} the timers watched: the current one and the next */
  const watched = new Map();
  /** @type {Set<string>} the watched timers whose state has arrived */
  const known = new Set();
  /** @type {Show} */
  const show = { rundown: config.rundown, state: "on", timerId: config.timer_id,
                 live: still(config.timer, now), status: null, line: "", words: "" };

  /**
   * @param {string} id
   * @param {PublicTimer | null} state as the page was served it; null: not known yet
   */
  function watch(id, state) {
    if (watched.has(id)) return;
    if (state) known.add(id);
    // Until its snapshot arrives a timer is not drawn: what it starts from does not matter,
    // but its version must not hide the snapshot's.
    const live = followLive(id, state ?? { ...show.live.timer, version: 0 }, null, (message) => {
      if (message.type === "snapshot" && !known.has(id)) {
        known.add(id);
        if (id === show.rundown.current) swap();
      }
      if (id === show.timerId) onNews?.(message);
    });
    watched.set(id, live);
  }

  // Watch the current timer and the next, draw the current one as soon as its state is known.
  // A show moved to a timer not watched yet (back, or a jump) keeps drawing the timer it was
  // on until that one's snapshot arrives, a round trip later.
  function swap() {
    const gone = show.status === "deleted";
    const { current, next } = show.rundown;
    const id = gone ? null : current;
    for (const [watchedId, live] of watched) {
      live.root = null;
      if (watchedId === id || (id && watchedId === next)) continue;
      live.close();
      watched.delete(watchedId);
      known.delete(watchedId);
    }
    if (id) watch(id, null);
    if (id && next) watch(next, null);
    const live = id ? watched.get(id) : undefined;
    if (id && live && known.has(id)) {
      Object.assign(show, { state: "on", timerId: id, live });
      live.root = root;
    } else if (!id) {
      const blank = { ...show.live.timer, state: /** @type {const} */ ("idle"), message: null,
                      blackout: false, title: show.rundown.title };
      Object.assign(show, { state: gone ? "deleted" : "waiting", timerId: null,
                            live: still(blank, show.live.serverNow) });
    }
    root.dataset.show = show.state;
    const { title, timers } = show.rundown;
    const at = show.timerId ? timers.indexOf(show.timerId) : -1;
    const position = at < 0 ? ""
      : fill(T["show.position"], { position: at + 1, count: timers.length }, config.lang);
    show.line = title && position ? `${title} · ${position}` : position;
    told();
  }

  // The page's data-connection: the rundown's, or while that is live the drawn timer's (whose
  // socket says its own changes itself: it has the root), and the words that go with it.
  function told() {
    const drawn = show.live.root ? show.live.status : null;
    root.dataset.connection = (show.status === "live" && drawn) || show.status || "";
    show.words = show.state === "waiting" ? T["show.waiting"]
      : show.state === "deleted" ? T["show.deleted"]
        : show.status === "reconnecting" ? T["widget.reconnecting"] : "";
  }

  if (show.timerId) watch(show.timerId, config.timer);
  swap();
  connect({
    path: `/ws/rundowns/${encodeURIComponent(show.rundown.id)}`, auth: null, guess: null,
    greeting: "rundown",
    onMessage: (sent) => {
      const message = /** @type {RundownMessage} */ (/** @type {unknown} */ (sent));
      if (message.type === "deleted") show.status = "deleted";
      else if (message.rundown && message.rundown.version >= show.rundown.version) {
        show.rundown = message.rundown;
      } else {
        return;
      }
      swap();
    },
    onStatus: (status) => {
      show.status = status === "not_found" ? "deleted" : status;
      if (show.status === "deleted") swap();
      else told();
    },
  });
  return show;
}
