// @ts-check
// The dashboard's rundowns: a show's timers in order. The create form (a title, the timers
// ticked, auto-advance); each rundown with its timers moved up and down, removed and added, its
// presenter page (its control token never in the page), stage display and widget, and its
// deletion.
import { el } from "./castimer.js";
import { T, api, confirming, field, say, showErrors, text } from "./dashboard-api.js";
import { timerTitles } from "./dashboard-timers.js";

/**
 * A rundown as its owner sees it (api/rundowns.owner).
 * @typedef {object} Rundown
 * @property {string} id
 * @property {string} title
 * @property {string[]} timers
 * @property {string | null} current
 * @property {boolean} auto_advance
 * @property {number} version
 * @property {{widget: string, stage: string, control: string}} urls
 */

/** @type {Map<string, {rundown: Rundown, node: HTMLElement}>} by rundown id */
const shown = new Map();

/** @param {string} timerId */
function titleOf(timerId) {
  const title = timerTitles().get(timerId);
  return title === undefined ? timerId : title || T["dashboard.untitled"];
}

/**
 * @param {ParentNode} node
 * @param {string} selector
 * @returns {HTMLElement}
 */
function part(node, selector) {
  const found = node.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`${selector} is not in a rundown`);
  return found;
}

/** @param {string} id a template's */
function fromTemplate(id) {
  const copy = el(id, HTMLTemplateElement).content.firstElementChild?.cloneNode(true);
  if (!(copy instanceof HTMLElement)) throw new Error(`#${id} holds no element`);
  return copy;
}

/**
 * The rundown's timers in a new order (or with one more or one less), saved; what the server
 * then holds is shown.
 * @param {Rundown} rundown
 * @param {string[]} timers
 */
function reorder(rundown, timers) {
  const entry = shown.get(rundown.id);
  if (!entry) return;
  api("PATCH", `/rundowns/${encodeURIComponent(rundown.id)}`,
      { timers, expected_version: rundown.version })
    .then((saved) => show(saved), (error) => say(part(entry.node, ".message"), error.message));
}

/** @param {Rundown} rundown */
function show(rundown) {
  const entry = shown.get(rundown.id);
  if (!entry) return;
  entry.rundown = rundown;
  const node = entry.node;
  node.dataset.version = String(rundown.version);
  say(part(node, ".message"), "");
  text(part(node, ".title"), rundown.title || T["dashboard.untitled"]);
  part(node, ".auto").hidden = !rundown.auto_advance;
  const order = rundown.timers;
  part(node, ".rundown-timers").replaceChildren(...order.map((timerId, at) => {
    const item = fromTemplate("rundown-timer-template");
    item.dataset.timerId = timerId;
    text(part(item, ".name"), titleOf(timerId));
    /** @param {string} selector @param {boolean} usable @param {() => string[]} moved */
    const button = (selector, usable, moved) => {
      const found = /** @type {HTMLButtonElement} */ (part(item, selector));
      found.disabled = !usable;
      found.addEventListener("click", () => reorder(rundown, moved()));
    };
    /** @param {number} to */
    const swapped = (to) => {
      const next = [...order];
      [next[at], next[to]] = [next[to], next[at]];
      return next;
    };
    button(".up", at > 0, () => swapped(at - 1));
    button(".down", at < order.length - 1, () => swapped(at + 1));
    button(".remove", order.length > 1, () => order.filter((id) => id !== timerId));
    return item;
  }));
  const add = /** @type {HTMLSelectElement} */ (part(node, ".add-timer"));
  const others = Array.from(timerTitles().keys()).filter((id) => !order.includes(id));
  add.replaceChildren(...others.map((id) => new Option(titleOf(id), id)));
  part(node, ".add-row").hidden = others.length === 0;
  /** @type {HTMLAnchorElement} */ (part(node, ".stage-link")).href = rundown.urls.stage;
  /** @type {HTMLAnchorElement} */ (part(node, ".widget-link")).href = rundown.urls.widget;
}

/**
 * A rundown at the top of the list: newest first.
 * @param {Rundown} rundown
 */
function addRundown(rundown) {
  const node = fromTemplate("rundown-template");
  node.dataset.rundownId = rundown.id;
  shown.set(rundown.id, { rundown, node });
  part(node, ".add").addEventListener("click", () => {
    const entry = shown.get(rundown.id);
    const chosen = /** @type {HTMLSelectElement} */ (part(node, ".add-timer")).value;
    if (entry && chosen) reorder(entry.rundown, [...entry.rundown.timers, chosen]);
  });
  // The presenter link holds the rundown's control token: opened from a button, it is never
  // in the page (nor in a link's tooltip on a shared screen).
  part(node, ".presenter-link").addEventListener("click", () => {
    const entry = shown.get(rundown.id);
    if (entry) window.open(entry.rundown.urls.control, "_blank", "noopener");
  });
  confirming(part(node, ".delete"), () => {
    api("DELETE", `/rundowns/${encodeURIComponent(rundown.id)}`).then(() => {
      shown.delete(rundown.id);
      node.remove();
      el("no-rundowns").hidden = shown.size > 0;
    }, (error) => say(part(node, ".message"), error.message));
  });
  show(rundown);
  el("rundown-list").prepend(node);
  el("no-rundowns").hidden = true;
}

/**
 * Every rundown of the account, a page at a time (after the timers: it names them).
 * @param {string} [cursor]
 * @returns {Promise<void>}
 */
export async function loadRundowns(cursor) {
  const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
  const page = await api("GET", `/rundowns?limit=100${query}`);
  for (const rundown of page.data) addRundown(rundown);
  if (page.has_more) return loadRundowns(page.next_cursor);
  el("no-rundowns").hidden = shown.size > 0;
}

// -- create ------------------------------------------------------------------------------------

const form = el("create-rundown", HTMLFormElement);
const panel = el("rundown-panel", HTMLDetailsElement);

/** The account's timers as boxes to tick, oldest first: shows are mostly made in order. */
function showPicks() {
  const titles = timerTitles();
  const ticked = new Set(picks().filter((box) => box.checked).map((box) => box.value));
  el("rundown-picks").replaceChildren(...Array.from(titles.keys(), (id) => {
    const label = document.createElement("label");
    label.className = "check";
    const box = label.appendChild(document.createElement("input"));
    box.type = "checkbox";
    box.name = "timers";
    box.value = id;
    box.checked = ticked.has(id);
    label.append(titleOf(id));
    return label;
  }));
  el("rundown-no-timers").hidden = titles.size > 0;
}

/** @returns {HTMLInputElement[]} */
function picks() {
  return Array.from(el("rundown-picks").querySelectorAll("input[name=timers]"));
}

panel.addEventListener("toggle", () => {
  if (panel.open) showPicks();
});
form.addEventListener("submit", (event) => {
  event.preventDefault();
  showErrors(form, null);
  const timers = picks().filter((box) => box.checked).map((box) => box.value);
  if (!timers.length) {
    say(part(form, '[data-error="timers"]'), T["dashboard.rundown_pick_one"]);
    return;
  }
  const title = field(form, "title", HTMLInputElement);
  const auto = field(form, "auto_advance", HTMLInputElement);
  api("POST", "/rundowns", { title: title.value, timers, auto_advance: auto.checked })
    .then((rundown) => {
      title.value = "";
      auto.checked = false;
      for (const box of picks()) box.checked = false;
      panel.open = false;
      addRundown(rundown);
      part(shown.get(rundown.id)?.node ?? form, ".title").scrollIntoView({ block: "nearest" });
    }, (error) => showErrors(form, error));
});
