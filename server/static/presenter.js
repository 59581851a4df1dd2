// @ts-check
// What the two presenter pages share (a timer's, /control/tmr_…, and a show's, /control/rnd_…):
// the presenter socket of one timer with its commands answered by acks, and the live room's
// controls: the message to the stage (text, presets, flash, send, clear) and the blackout; the
// digits sized to their monitor.
// Not in castimer.js: the widget loads that module, and it has a weight budget.
import { connect, el } from "./castimer.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").ConnectionStatus} ConnectionStatus */
/** @typedef {import("./castimer.js").Connection} Connection */
/** @typedef {import("./castimer.js").Catalog} Catalog */

/**
 * A command sent to the timer: false when the socket was not open.
 * @typedef {(name: string, fields?: Record<string, unknown>, then?: () => void) => boolean}
 *   Command
 */

/**
 * @typedef {object} PresenterSocket
 * @property {Connection} connection
 * @property {Command} command `then` runs once the server accepted it
 */

/** @type {Record<ConnectionStatus, string>} the catalog key of each connection status */
export const STATUS_WORDS = {
  connecting: "control.connecting", reconnecting: "control.reconnecting",
  live: "control.live", unauthorized: "control.bad_token", forbidden: "control.bad_token",
  not_found: "control.not_found", deleted: "widget.deleted",
};

/**
 * The presenter socket of one timer (/ws/control/{id}), authenticated with its control token,
 * or with a show's (`rundown`: the rundown's id) for a timer in that show.
 * Acks go to `onAck` (ok, and the server's reason when not); every other message to
 * `onMessage`.
 * @param {{timerId: string, token: string, rundown?: string,
 *   onMessage: (message: ServerMessage) => void,
 *   onStatus: (status: ConnectionStatus) => void,
 *   onAck: (ok: boolean, error: string | undefined) => void}} options
 * @returns {PresenterSocket}
 */
export function presenterSocket(options) {
  let req = 0;
  /** @type {Map<number, () => void>} what to do when a command is accepted, by request */
  const onAccepted = new Map();
  const connection = connect({
    path: `/ws/control/${encodeURIComponent(options.timerId)}`,
    auth: options.rundown ? { type: "auth", token: options.token, rundown: options.rundown }
      : { type: "auth", token: options.token },
    guess: null, onStatus: options.onStatus,
    onMessage: (message) => {
      if (message.type !== "ack") return options.onMessage(message);
      const then = onAccepted.get(message.req ?? 0);
      onAccepted.delete(message.req ?? 0);
      if (message.ok && then) then();
      options.onAck(Boolean(message.ok), message.error?.message);
    },
  });
  return {
    connection,
    command: (name, fields = {}, then) => {
      req += 1;
      if (then) onAccepted.set(req, then);
      if (connection.send({ type: "command", req, command: name, ...fields })) return true;
      onAccepted.delete(req);
      return false;
    },
  };
}

/**
 * The live room's controls in this page (#message-form with #message-text, .preset buttons,
 * #flash, #clear-message, #send-message; #blackout; what the stage shows in #on-screen and
 * #blackout-note), sending through `command` to the timer `current()` names.
 * @param {(name: string, fields?: Record<string, unknown>, then?: () => void) => void} send
 *   a command to the current timer
 * @param {() => PublicTimer | null} current
 * @param {(key: string, text: string) => void} set the page's text setter
 */
export function liveRoom(send, current, set) {
  const messageText = el("message-text", HTMLInputElement);
  const flash = el("flash", HTMLButtonElement);
  const blackout = el("blackout", HTMLButtonElement);
  /** @type {NodeListOf<HTMLButtonElement>} */
  const buttons = document.querySelectorAll(".preset, #flash, #blackout");
  let usable = false;

  function enable() {
    const timer = current();
    for (const button of buttons) button.disabled = !usable;
    messageText.disabled = !usable;
    el("send-message", HTMLButtonElement).disabled = !usable || !messageText.value.trim();
    el("clear-message", HTMLButtonElement).disabled = !usable || !timer?.message;
    blackout.setAttribute("aria-pressed", String(Boolean(timer?.blackout)));
  }

  /** @param {string} text */
  function sendMessage(text) {
    const flashing = flash.getAttribute("aria-pressed") === "true";
    send("message", { text, flash: flashing }, () => {
      if (messageText.value.trim() === text) messageText.value = "";
      enable();
    });
  }

  /** @param {HTMLButtonElement} button @param {() => void} action */
  function onTap(button, action) {
    button.addEventListener("click", (event) => {
      action();
      if (event.detail) button.blur(); // after a tap, the keys are the shortcuts again
    });
  }

  onTap(blackout, () => send("blackout", { on: !current()?.blackout }));
  onTap(flash, () => flash.setAttribute("aria-pressed",
                                        String(flash.getAttribute("aria-pressed") !== "true")));
  /** @type {NodeListOf<HTMLButtonElement>} */
  const presets = document.querySelectorAll("button[data-preset]");
  for (const button of presets) onTap(button, () => sendMessage(button.textContent ?? ""));
  onTap(el("clear-message", HTMLButtonElement), () => send("clear_message"));
  messageText.addEventListener("input", enable);
  el("message-form", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    const text = messageText.value.trim();
    if (text) sendMessage(text);
  });

  return {
    onTap,
    /** @param {boolean} open whether commands can reach the current timer now */
    enable: (open) => {
      usable = open && current() !== null;
      enable();
    },
    /** What the stage shows of the current timer besides its time. */
    show: () => {
      const timer = current();
      const message = timer?.message ?? null;
      set("on-screen-text", message ? message.text : "");
      el("on-screen").hidden = !message;
      document.body.dataset.flash = String(Boolean(message?.flash));
      el("blackout-note").hidden = !timer?.blackout;
      document.body.dataset.blackout = String(Boolean(timer?.blackout));
    },
  };
}

/**
 * A sizer of the digits in `time` to fill its width (the stylesheet caps them by the height):
 * measured in the font the page really got, again only when the text's length or the width
 * changes.
 * @param {HTMLElement} time
 * @returns {(text: string) => void}
 */
export function digitFitter(time) {
  let fitted = "";
  return (text) => {
    const width = time.clientWidth;
    const key = `${text.length} ${width}`;
    if (key === fitted || width === 0) return;
    fitted = key;
    const range = document.createRange();
    range.selectNodeContents(time);
    const drawn = range.getBoundingClientRect().width;
    const size = parseFloat(getComputedStyle(time).fontSize);
    if (drawn > 0) time.style.setProperty("--fit", `${Math.floor((width * size) / drawn * 0.96)}px`);
  };
}

/**
 * Enable the command buttons ([data-command], [data-seconds]) under `root` that make sense
 * for `timer` now (the presenter pages' and the dashboard's; kept out of castimer.js,
 * which every widget loads); the server decides in the end (and says why not).
 * @param {ParentNode} root
 * @param {PublicTimer | null} timer null: not known (yet)
 * @param {boolean} connected false: nothing can be sent
 */
export function enableCommands(root, timer, connected) {
  const state = timer ? timer.state : null;
  const counting = state === "running" || state === "overtime";
  /** @type {Record<string, boolean>} */
  const allowed = {
    start: state === "idle", pause: counting && timer?.type !== "event",
    resume: state === "paused", reset: state !== null && state !== "idle",
    stop: counting || state === "paused",
  };
  /** @type {NodeListOf<HTMLButtonElement>} */
  const commands = root.querySelectorAll("button[data-command]");
  for (const button of commands) {
    button.disabled = !connected || !allowed[button.dataset.command ?? ""];
  }
  /** @type {NodeListOf<HTMLButtonElement>} */
  const adjusts = root.querySelectorAll("button[data-seconds]");
  for (const button of adjusts) {
    // Past zero (completed, or counting on in overtime) there is no time left to change.
    button.disabled = !connected || !timer || timer.type === "event" || state === "completed"
      || Boolean(timer.completed_at);
  }
}
