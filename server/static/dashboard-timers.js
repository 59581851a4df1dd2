// @ts-check
// The dashboard's timers: each with its live state (over the viewer socket), commands, links,
// edit and webhook forms and its delivery log with attempts and retry; and the create form.
import {
  connect, daysLabel, el, fill, offsetDate, roundLabel, shownClock, startsAt,
  stateShown, textSetter,
} from "./castimer.js";
import {
  T, api, checkFields, confirming, field, lang, say, showErrors, text, when,
} from "./dashboard-api.js";
import { enableCommands } from "./presenter.js";
import { progress } from "./time.js";

/** @typedef {import("./time.js").PublicTimer} PublicTimer */
/** @typedef {import("./castimer.js").ServerMessage} ServerMessage */
/** @typedef {import("./castimer.js").Connection} Connection */

/**
 * A timer as its owner sees it (timer_json.owner).
 * @typedef {PublicTimer & {id: string, version: number, webhook_url: string | null,
 *   webhook_events: string[] | null, viewers: number,
 *   urls: {widget: string, embed: string, control: string, stage: string}}} OwnedTimer
 */

/**
 * One timer in the list.
 * @typedef {object} Card
 * @property {OwnedTimer} timer as the API last returned it
 * @property {PublicTimer} live its latest state, from the socket or the API
 * @property {HTMLElement} node
 * @property {(selector: string, value: string) => void} show sets a part's text when it changed
 * @property {number} viewers open viewer sockets, as the API or the last presence said
 * @property {Set<string>} openAttempts deliveries whose attempts are shown
 * @property {boolean} controlShown
 * @property {number} looks deliveries looked at again in a row
 * @property {ReturnType<typeof setTimeout> | undefined} poll the next look
 * @property {Connection} connection
 */

/**
 * @typedef {object} Delivery
 * @property {string} id
 * @property {string} event
 * @property {string} status
 * @property {number} attempt_count
 * @property {string} created_at
 * @property {string | null} next_attempt_at
 * @property {string} url
 */

/**
 * @typedef {object} Attempt
 * @property {number} number
 * @property {string} at
 * @property {number} duration_ms
 * @property {number | null} status_code
 * @property {string | null} error
 * @property {string | null} response
 */

/** @type {Map<string, Card>} by timer id */
const cards = new Map();
/** @type {Record<string, string[]>} */
const TIMING = { countdown: ["duration"], event: ["target_date", "timezone"],
                 interval: ["work", "rest", "rounds"] };

/**
 * @param {Card} card
 * @param {string} selector
 * @returns {HTMLElement}
 */
function part(card, selector) {
  const found = card.node.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`${selector} is not in a timer's card`);
  return found;
}

/**
 * @template {HTMLElement} E
 * @param {Card} card
 * @param {string} selector
 * @param {new () => E} kind
 * @returns {E}
 */
function partOf(card, selector, kind) {
  const found = part(card, selector);
  if (!(found instanceof kind)) throw new Error(`${selector} is not a ${kind.name}`);
  return found;
}

/**
 * The timing fields filled in, as the API takes them.
 * @param {HTMLFormElement} form
 * @param {string} type
 * @returns {Record<string, string | number>}
 */
function timing(form, type) {
  /** @type {Record<string, string | number>} */
  const body = {};
  for (const name of TIMING[type]) {
    const input = field(form, name, HTMLInputElement);
    const value = input.value.trim();
    if (value !== "") body[name] = input.type === "number" ? Number(value) : value;
  }
  return body;
}

// -- the scheduled start: a datetime-local input, in this browser's time zone -----------------

/** @param {number} n */
const two = (n) => String(n).padStart(2, "0");

/**
 * The input's wall-clock time as the API takes it: with this browser's offset then, so the
 * widget and the stage say the hour that was typed.
 * @param {string} value "2026-12-03T14:00", "" for none
 * @returns {string | null}
 */
function startAtFromInput(value) {
  if (!value) return null;
  const offset = -new Date(value).getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const seconds = value.length === 16 ? ":00" : "";
  const [hours, minutes] = [Math.floor(Math.abs(offset) / 60), Math.abs(offset) % 60];
  return `${value}${seconds}${sign}${two(hours)}:${two(minutes)}`;
}

/**
 * A start_at in this browser's wall-clock time, for a datetime-local input.
 * @param {string | null | undefined} iso
 */
function startAtForInput(iso) {
  const start = iso ? offsetDate(iso) : null;
  if (!start) return "";
  const d = new Date(start.ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T`
    + `${two(d.getHours())}:${two(d.getMinutes())}`;
}

/**
 * @param {HTMLFormElement} form
 * @param {string} type
 */
function showFields(form, type) {
  /** @type {NodeListOf<HTMLElement>} */
  const labels = form.querySelectorAll("[data-for]");
  for (const label of labels) {
    label.hidden = !(label.dataset.for ?? "").split(" ").includes(type);
    // Another type's fields are not sent, so their limits are not checked either.
    for (const input of label.querySelectorAll("input")) input.disabled = label.hidden;
  }
}

// -- the live room's fields (DESIGN §10) ------------------------------------------------------

/** @type {Record<string, boolean>} the types that may count on past zero */
const OVERTIME_TYPES = { countdown: true, event: true };

/**
 * The live room's fields as the form has them: a threshold left empty is none (null).
 * @param {HTMLFormElement} form
 * @param {string} type
 * @returns {Record<string, number | boolean | null>}
 */
function roomFields(form, type) {
  /** @type {Record<string, number | boolean | null>} */
  const body = {};
  for (const name of ["warn_at", "danger_at"]) {
    const value = field(form, name, HTMLInputElement).value.trim();
    body[name] = value === "" ? null : Number(value);
  }
  if (OVERTIME_TYPES[type]) body.overtime = field(form, "overtime", HTMLInputElement).checked;
  const blackout = form.elements.namedItem("blackout");
  if (blackout instanceof HTMLInputElement) body.blackout = blackout.checked;
  return body;
}

/**
 * @param {HTMLFormElement} form
 * @param {OwnedTimer} timer
 */
function fillRoom(form, timer) {
  field(form, "warn_at", HTMLInputElement).value = String(timer.warn_at ?? "");
  field(form, "danger_at", HTMLInputElement).value = String(timer.danger_at ?? "");
  field(form, "overtime", HTMLInputElement).checked = Boolean(timer.overtime);
  field(form, "blackout", HTMLInputElement).checked = Boolean(timer.blackout);
}

/**
 * What the stage sees besides the time: the message, the blackout, how many screens watch.
 * @param {Card} card
 */
function showRoom(card) {
  const message = card.live.message ?? null;
  say(part(card, ".on-screen"), message ? fill(T["dashboard.on_screen"], { text: message.text },
                                               lang) : "");
  part(card, ".blackout-on").hidden = !card.live.blackout;
  card.show(".viewers", fill(T["dashboard.viewers"], { n: card.viewers }, lang));
}

/**
 * The level at this instant, for the stylesheet's colours and as a badge (overtime is the
 * state's own word already).
 * @param {Card} card
 * @param {import("./time.js").Progress} seen
 */
function showLevel(card, seen) {
  card.node.dataset.level = seen.level;
  const words = seen.level === "warning" || seen.level === "danger"
    ? T[`dashboard.level_${seen.level}`] : "";
  card.show(".level", words);
  part(card, ".level").hidden = !words;
}

// -- timers ----------------------------------------------------------------------------------

/**
 * A timer as the API returned it: its owner's fields, and its state if that is news.
 * @param {Card} card
 * @param {OwnedTimer} timer
 */
function showTimer(card, timer) {
  card.viewers = timer.viewers;
  if (timer.version >= card.timer.version) card.timer = timer;
  if (timer.version >= (card.live.version ?? 0)) {
    card.live = timer;
    showLive(card);
  }
  // Open forms keep what the user is typing; closed ones follow the timer.
  if (!partOf(card, ".edit", HTMLDetailsElement).open) fillEdit(card);
  if (!partOf(card, ".webhooks", HTMLDetailsElement).open) fillHooks(card);
  partOf(card, ".widget-url", HTMLInputElement).value = card.timer.urls.widget;
  partOf(card, ".stage-url", HTMLInputElement).value = card.timer.urls.stage;
  partOf(card, ".stage-link", HTMLAnchorElement).href = card.timer.urls.stage;
  partOf(card, ".embed-code", HTMLTextAreaElement).value = card.timer.urls.embed;
  if (card.controlShown) text(part(card, ".control-url"), card.timer.urls.control);
}

/** @param {Card} card */
function showLive(card) {
  text(part(card, ".title"), card.live.title || T["dashboard.untitled"]);
  text(part(card, ".type"), T[`timer_type.${card.live.type}`]);
  card.node.dataset.version = String(card.live.version);
  enableCommands(card.node, card.live, true);
  showRoom(card);
}

/**
 * @param {Card} card
 * @param {ServerMessage} message
 */
function onLive(card, message) {
  if (message.type === "deleted") return removeCard(card.timer.id);
  if (message.type === "presence") {
    card.viewers = message.viewers ?? 0;
    return showRoom(card);
  }
  if (!message.timer || message.v < (card.live.version ?? 0)) return;
  card.live = message.timer;
  showLive(card);
}

/**
 * @param {Card} card
 * @param {"POST" | "PATCH"} method
 * @param {string} path under the timer's
 * @param {object} [body]
 */
function act(card, method, path, body) {
  const message = part(card, ".message");
  return api(method, `/timers/${encodeURIComponent(card.timer.id)}${path}`, body)
    .then((timer) => {
      say(message, "");
      if (timer) showTimer(card, timer);
    }, (error) => say(message, error.message));
}

/** @param {Card} card */
function fillEdit(card) {
  const form = partOf(card, ".edit-form", HTMLFormElement);
  const timer = /** @type {Record<string, unknown>} */ (card.timer);
  field(form, "title", HTMLInputElement).value = card.timer.title || "";
  showFields(form, card.timer.type);
  for (const name of TIMING[card.timer.type]) {
    field(form, name, HTMLInputElement).value = String(timer[name] ?? "");
  }
  const start = field(form, "start_at", HTMLInputElement);
  start.value = startAtForInput(card.timer.start_at);
  start.dataset.shown = start.value; // sent only when changed: the minute shown loses seconds
  fillRoom(form, card.timer);
}

/** @param {HTMLFormElement} hooks */
function eventBoxes(hooks) {
  /** @type {NodeListOf<HTMLInputElement>} */
  const boxes = hooks.querySelectorAll("input[name=event]");
  return Array.from(boxes);
}

/** @param {Card} card */
function fillHooks(card) {
  const timer = card.timer;
  const hooks = partOf(card, ".webhook-form", HTMLFormElement);
  const all = field(hooks, "all_events", HTMLInputElement);
  field(hooks, "webhook_url", HTMLInputElement).value = timer.webhook_url || "";
  all.checked = timer.webhook_events === null;
  for (const box of eventBoxes(hooks)) {
    box.checked = timer.webhook_events === null || timer.webhook_events.includes(box.value);
    box.disabled = all.checked;
  }
}

/** @param {Card} card */
function wire(card) {
  const id = () => encodeURIComponent(card.timer.id);
  /** @type {NodeListOf<HTMLButtonElement>} */
  const commands = card.node.querySelectorAll("button[data-command]");
  for (const button of commands) {
    button.addEventListener("click", () => {
      act(card, "PATCH", "/state", { action: button.dataset.command });
    });
  }
  /** @type {NodeListOf<HTMLButtonElement>} */
  const adjusts = card.node.querySelectorAll("button[data-seconds]");
  for (const button of adjusts) {
    button.addEventListener("click", () => {
      act(card, "POST", "/adjust", { seconds: Number(button.dataset.seconds) });
    });
  }
  confirming(part(card, ".delete"), () => {
    api("DELETE", `/timers/${id()}`).then(() => removeCard(card.timer.id),
      (error) => say(part(card, ".message"), error.message));
  });
  part(card, ".reveal-control").addEventListener("click", () => {
    card.controlShown = !card.controlShown;
    text(part(card, ".control-url"), card.controlShown ? card.timer.urls.control
      : T["dashboard.hidden"]);
    text(part(card, ".reveal-control"), T[card.controlShown ? "dashboard.hide"
      : "dashboard.reveal"]);
  });
  confirming(part(card, ".rotate-control"), () => act(card, "POST", "/control-token/rotate"));
  const edit = partOf(card, ".edit-form", HTMLFormElement);
  edit.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkFields(edit)) return;
    /** @type {Record<string, string | number | boolean | null>} */
    const body = timing(edit, card.timer.type);
    const before = /** @type {Record<string, unknown>} */ (card.timer);
    for (const name of Object.keys(body)) {
      if (body[name] === before[name]) delete body[name]; // timing changes only while idle
    }
    body.title = field(edit, "title", HTMLInputElement).value;
    const start = field(edit, "start_at", HTMLInputElement);
    if (card.timer.type !== "event" && start.value !== start.dataset.shown) {
      body.start_at = startAtFromInput(start.value);
    }
    for (const [name, value] of Object.entries(roomFields(edit, card.timer.type))) {
      // Unchanged fields stay out: overtime, say, cannot be sent while the timer is past zero.
      if (value !== (before[name] ?? null)) body[name] = value;
    }
    api("PATCH", `/timers/${id()}`, body).then((timer) => {
      showErrors(edit, null);
      partOf(card, ".edit", HTMLDetailsElement).open = false;
      showTimer(card, timer); // closed first, so the form holds what the timer now has
    }, (error) => showErrors(edit, error));
  });
  const hooks = partOf(card, ".webhook-form", HTMLFormElement);
  const all = field(hooks, "all_events", HTMLInputElement);
  all.addEventListener("change", () => {
    for (const box of eventBoxes(hooks)) box.disabled = all.checked;
  });
  hooks.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = field(hooks, "webhook_url", HTMLInputElement).value.trim();
    const chosen = eventBoxes(hooks).filter((box) => box.checked).map((box) => box.value);
    api("PATCH", `/timers/${id()}`, {
      webhook_url: url || null, webhook_events: all.checked ? null : chosen,
    }).then((timer) => {
      showErrors(hooks, null);
      showTimer(card, timer);
      say(part(card, ".saved"), T["dashboard.saved"]);
    }, (error) => showErrors(hooks, error));
  });
  const webhooks = partOf(card, ".webhooks", HTMLDetailsElement);
  webhooks.addEventListener("toggle", () => {
    if (webhooks.open) loadDeliveries(card);
  });
  part(card, ".send-test").addEventListener("click", () => {
    api("POST", `/timers/${id()}/webhooks/test`).then(() => {
      showErrors(hooks, null);
      loadDeliveries(card);
    }, (error) => showErrors(hooks, error));
  });
  part(card, ".refresh-deliveries").addEventListener("click", () => loadDeliveries(card));
}

/**
 * A copy of the template with this id.
 * @param {string} id
 * @returns {HTMLElement}
 */
function fromTemplate(id) {
  const copy = el(id, HTMLTemplateElement).content.firstElementChild?.cloneNode(true);
  if (!(copy instanceof HTMLElement)) throw new Error(`#${id} holds no element`);
  return copy;
}

/**
 * The filter's words and state; a card shows when its title or id holds every word.
 * @param {Card} card
 * @param {string[]} words lower case
 * @param {string} state "" for any
 */
function matches(card, words, state) {
  const haystack = `${card.live.title ?? ""} ${card.timer.id}`.toLowerCase();
  return (!state || card.node.dataset.state === state) &&
    words.every((word) => haystack.includes(word));
}

/** Show the cards the search and the state filter let through. */
function filter() {
  const words = el("timer-search", HTMLInputElement).value.toLowerCase().split(/\s+/)
    .filter(Boolean);
  const state = el("timer-filter", HTMLSelectElement).value;
  let shown = 0;
  for (const card of cards.values()) {
    const hidden = !matches(card, words, state);
    if (card.node.hidden !== hidden) card.node.hidden = hidden;
    if (!hidden) shown += 1;
  }
  el("no-matches").hidden = shown > 0 || cards.size === 0;
}

/** @param {Card} card */
function toggleDetails(card) {
  const more = part(card, ".more");
  const button = part(card, ".toggle-details");
  more.hidden = !more.hidden;
  button.setAttribute("aria-expanded", String(!more.hidden));
  card.node.classList.toggle("open", !more.hidden);
  text(button, T[more.hidden ? "dashboard.details" : "dashboard.less"]);
}

/**
 * A card for the timer, at the top of the list: newest first.
 * @param {OwnedTimer} timer
 * @returns {Card}
 */
function addCard(timer) {
  const node = fromTemplate("timer-template");
  node.dataset.timerId = timer.id;
  /** @type {Card} */
  const card = {
    timer, live: timer, node, viewers: timer.viewers, openAttempts: new Set(), controlShown: false,
    looks: 0,
    poll: undefined,
    show: textSetter((selector) => node.querySelector(selector), { hideEmpty: false }),
    connection: connect({
      // count=0: the account watching its own timers is not one of their viewers.
      path: `/ws/timers/${encodeURIComponent(timer.id)}?count=0`, auth: null, guess: null,
      onMessage: (message) => onLive(card, message),
      onStatus: (status) => {
        node.dataset.connection = status;
        const said = T[`control.${status}`] ?? T["control.reconnecting"];
        const dot = node.querySelector(".connection");
        if (dot) {
          dot.setAttribute("aria-label", said);
          dot.setAttribute("title", said);
        }
      },
    }),
  };
  cards.set(timer.id, card);
  wire(card);
  part(card, ".toggle-details").addEventListener("click", () => toggleDetails(card));
  showTimer(card, timer);
  el("timer-list").prepend(node);
  el("no-timers").hidden = true;
  return card;
}

/** @param {string} timerId */
function removeCard(timerId) {
  const card = cards.get(timerId);
  if (!card) return;
  cards.delete(timerId);
  clearTimeout(card.poll);
  card.connection.close();
  card.node.remove();
  el("no-timers").hidden = cards.size > 0;
}

/**
 * The account's timers' titles by id, oldest first: what a rundown is made of.
 * @returns {Map<string, string>}
 */
export function timerTitles() {
  return new Map(Array.from(cards, ([id, card]) => [id, card.live.title ?? ""]));
}

/**
 * Every timer of the account, a page at a time.
 * @param {string} [cursor]
 * @returns {Promise<void>}
 */
export async function loadTimers(cursor) {
  const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
  const page = await api("GET", `/timers?limit=100${query}`);
  // Pages come oldest first; each card goes on top, so the newest ends up first.
  for (const timer of page.data) addCard(timer);
  if (page.has_more) return loadTimers(page.next_cursor);
  el("no-timers").hidden = cards.size > 0;
  // A new account starts with the form open; one with timers sees its list first.
  el("create-panel", HTMLDetailsElement).open = cards.size === 0;
}

function frame() {
  for (const card of cards.values()) {
    const timer = card.live;
    const at = card.connection.serverNow();
    const seen = progress(timer, at);
    const shown = shownClock(seen, lang);
    card.show(".time", (shown.days ? `${daysLabel(shown.days, lang)} ` : "") + shown.text);
    card.show(".round", roundLabel(T, seen, timer, lang));
    card.show(".state", seen.state === "overtime" ? T["dashboard.level_overtime"]
      : startsAt(T, timer, at, lang) || T[`widget.${stateShown(seen)}`]);
    showLevel(card, seen);
    card.node.dataset.state = stateShown(seen);  // what the state filter matches
  }
  filter();
  requestAnimationFrame(frame);
}

// -- webhook deliveries ----------------------------------------------------------------------

/**
 * @param {HTMLElement} list
 * @param {{attempts: Attempt[]}} delivery
 */
function showAttempts(list, delivery) {
  list.replaceChildren();
  for (const attempt of delivery.attempts) {
    const item = document.createElement("li");
    const outcome = attempt.status_code === null ? attempt.error || T["dashboard.no_answer"]
      : String(attempt.status_code);
    text(item.appendChild(document.createElement("span")), fill(T["dashboard.attempt"], {
      number: attempt.number, at: when(attempt.at), ms: attempt.duration_ms }, lang));
    text(item.appendChild(document.createElement("strong")), ` ${outcome} `)
      .className = "status-code";
    if (attempt.response) {
      text(item.appendChild(document.createElement("code")), attempt.response)
        .className = "response";
    }
    list.appendChild(item);
  }
}

/**
 * @param {Card} card
 * @param {string} deliveryId
 * @param {HTMLElement} list
 */
function loadAttempts(card, deliveryId, list) {
  api("GET", `/deliveries/${encodeURIComponent(deliveryId)}`)
    .then((delivery) => showAttempts(list, delivery),
      (error) => say(part(card, ".message"), error.message));
}

/**
 * @param {Card} card
 * @param {Delivery} delivery
 */
function showDelivery(card, delivery) {
  const node = fromTemplate("delivery-template");
  /** @param {string} selector */
  const inside = (selector) => {
    const found = node.querySelector(selector);
    if (!(found instanceof HTMLElement)) throw new Error(`${selector} is not in a delivery`);
    return found;
  };
  node.dataset.deliveryId = delivery.id;
  node.dataset.status = delivery.status;
  text(inside(".event"), delivery.event);
  text(inside(".status"), T[`dashboard.status_${delivery.status}`]);
  text(inside(".attempt-count"),
       fill(T["dashboard.attempts_made"], { n: delivery.attempt_count }, lang));
  text(inside(".created"), when(delivery.created_at));
  text(inside(".url"), delivery.url);
  const list = inside(".attempts");
  inside(".show-attempts").addEventListener("click", () => {
    card.openAttempts.add(delivery.id);
    loadAttempts(card, delivery.id, list);
  });
  if (card.openAttempts.has(delivery.id)) loadAttempts(card, delivery.id, list);
  const retry = inside(".retry");
  retry.hidden = delivery.status === "pending";
  retry.addEventListener("click", () => {
    api("POST", `/deliveries/${encodeURIComponent(delivery.id)}/retry`)
      .then(() => loadDeliveries(card), (error) => say(part(card, ".message"), error.message));
  });
  return node;
}

// The log looks again when a pending delivery's next attempt is due (at least a second
// apart), not on a fixed beat: every look counts against the account's rate limit, and an
// attempt due in hours is left to the refresh button.
const LOOK_AHEAD = 300000;
const MAX_LOOKS = 60;

/**
 * @param {Delivery[]} deliveries
 * @returns {number | null} ms until the next look, or null for none
 */
function nextLook(deliveries) {
  const due = deliveries.filter((d) => d.status === "pending")
    .map((d) => Date.parse(d.next_attempt_at ?? "") - Date.now());
  if (!due.length) return null;
  const wait = Math.max(1000, Math.min(...due) + 500);
  return wait <= LOOK_AHEAD ? wait : null;
}

/** @param {Card} card */
function loadDeliveries(card) {
  clearTimeout(card.poll);
  return api("GET", `/timers/${encodeURIComponent(card.timer.id)}/deliveries?limit=20`)
    .then((/** @type {{data: Delivery[]}} */ page) => {
      part(card, ".deliveries").replaceChildren(
        ...page.data.map((delivery) => showDelivery(card, delivery)));
      say(part(card, ".no-deliveries"), page.data.length ? "" : T["dashboard.no_deliveries"]);
      const wait = nextLook(page.data);
      card.looks = wait === null ? 0 : card.looks + 1;
      if (wait !== null && card.looks < MAX_LOOKS && cards.has(card.timer.id)) {
        card.poll = setTimeout(() => loadDeliveries(card), wait);
      }
    }, (error) => say(part(card, ".message"), error.message));
}

// -- create ----------------------------------------------------------------------------------

const create = el("create", HTMLFormElement);
const createType = field(create, "type", HTMLSelectElement);
showFields(create, createType.value);
createType.addEventListener("change", () => {
  showFields(create, createType.value);
  showErrors(create, null);
});
create.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!checkFields(create)) return;
  const type = createType.value;
  /** @type {Record<string, string | number | boolean | null>} */
  const body = { ...timing(create, type), type,
                 title: field(create, "title", HTMLInputElement).value };
  const start = startAtFromInput(field(create, "start_at", HTMLInputElement).value);
  if (type !== "event" && start) body.start_at = start;
  for (const [name, value] of Object.entries(roomFields(create, type))) {
    if (value !== null && value !== false) body[name] = value; // the defaults are left out
  }
  const hook = field(create, "webhook_url", HTMLInputElement).value.trim();
  if (hook) body.webhook_url = hook;
  api("POST", "/timers", body).then((timer) => {
    showErrors(create, null);
    field(create, "title", HTMLInputElement).value = "";
    field(create, "start_at", HTMLInputElement).value = "";
    // The new timer at once: on top, shown whatever the filter, in view, focused, and said.
    el("timer-search", HTMLInputElement).value = "";
    el("timer-filter", HTMLSelectElement).value = "";
    const card = addCard(timer);
    filter();
    const title = part(card, ".title");
    title.focus({ preventScroll: true });
    card.node.scrollIntoView({ block: "nearest" });
    text(el("created"), fill(T["dashboard.created_timer"], {
      title: timer.title || T["dashboard.untitled"] }, lang));
  }, (error) => showErrors(create, error));
});
el("timer-search").addEventListener("input", filter);
el("timer-filter").addEventListener("change", filter);

frame();
