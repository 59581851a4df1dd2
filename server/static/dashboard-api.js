// @ts-check
// What the dashboard's parts share: the page's config, requests to the real /api/v1 (the
// session cookie rides along; changes carry the page's CSRF token), text-only output, error
// messages beside their fields, and confirmation of destructive buttons.
import { el, fill, readConfig } from "./castimer.js";

/**
 * @typedef {object} DashboardConfig
 * @property {string} lang
 * @property {string} csrf the session's CSRF token
 * @property {string} csrf_header the header that carries it
 * @property {string[]} events the event names a webhook may be sent
 * @property {Record<string, string>} text
 */

/** An error the API answered: its message, and the field it names. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {string | null} param
   */
  constructor(message, param) {
    super(message);
    this.param = param;
  }
}

/** @type {DashboardConfig} */
export const config = readConfig();
export const T = config.text;
export const lang = config.lang;
const dates = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" });

/** @param {string | null} iso */
export function when(iso) {
  return iso ? dates.format(new Date(iso)) : T["dashboard.never"];
}

/**
 * @template {Node} N
 * @param {N} node
 * @param {string} value titles, URLs and responses stay text
 * @returns {N}
 */
export function text(node, value) {
  node.textContent = value;
  return node;
}

/**
 * A request to the API; resolves to the answer's JSON (null for 204), or rejects with an
 * ApiError. A 401 means the session's key is gone: the reloaded page says so.
 * @param {"GET" | "POST" | "PATCH" | "DELETE"} method
 * @param {string} path under /api/v1
 * @param {object} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (method !== "GET") headers[config.csrf_header] = config.csrf;
  /** @type {RequestInit} */
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/api/v1" + path, init);
  if (response.status === 401) {
    location.reload();
    return new Promise(() => {});
  }
  if (response.status === 204) return null;
  const data = await response.json();
  if (response.ok) return data;
  throw new ApiError(data.error.message, data.error.param);
}

/**
 * A message in `node`, hidden when there is none.
 * @param {HTMLElement} node
 * @param {string} message
 */
export function say(node, message) {
  text(node, message);
  node.hidden = !message;
}

/** @param {unknown} error the page's notice says it; null clears it */
export function notice(error) {
  say(el("notice"), error instanceof Error ? error.message : "");
}

/**
 * The label a form's control is shown with: the text before the control in its <label>.
 * @param {HTMLFormElement} form
 * @param {string | null} name
 * @returns {string | null} null when the form has no such control
 */
function labelOf(form, name) {
  const control = name ? form.elements.namedItem(name) : null;
  const label = control instanceof HTMLElement ? control.closest("label") : null;
  return label ? (label.firstChild?.textContent ?? "").trim() : null;
}

/**
 * A message in the page's language in `slot`; the server's own words, if any, after it as
 * a detail (they are English, and say exactly what was refused).
 * @param {HTMLElement} slot
 * @param {string} message
 * @param {string} [detail]
 */
function sayWithDetail(slot, message, detail) {
  slot.replaceChildren(message);
  if (detail) {
    const small = slot.appendChild(document.createElement("small"));
    small.className = "detail muted";
    text(small, ` (${detail})`);
  }
  slot.hidden = false;
}

/**
 * The API's error beside the field it names (that field's label in a sentence of the page's
 * language), or at the form's foot.
 * @param {HTMLFormElement} form
 * @param {unknown} error null clears them
 */
export function showErrors(form, error) {
  /** @type {HTMLElement[]} */
  const slots = Array.from(form.querySelectorAll("[data-error]"));
  for (const slot of slots) say(slot, "");
  if (!(error instanceof Error)) return;
  const param = error instanceof ApiError ? error.param : null;
  const label = labelOf(form, param);
  const slot = (label && slots.find((s) => s.dataset.error === param)) ||
    slots.find((s) => s.dataset.error === "");
  if (!slot) return;
  sayWithDetail(slot, label ? fill(T["dashboard.invalid_field"], { field: label }, lang)
    : T["dashboard.request_failed"], error.message);
}

/**
 * The form's own limits (required, min, max, whole numbers, URLs) checked before anything is
 * sent, each refusal beside its field in the page's language.
 * @param {HTMLFormElement} form
 * @returns {boolean} whether the form may be sent
 */
export function checkFields(form) {
  showErrors(form, null);
  let valid = true;
  for (const control of Array.from(form.elements)) {
    if (!(control instanceof HTMLInputElement) || !control.willValidate) continue;
    if (control.validity.valid) continue;
    const slot = form.querySelector(`[data-error="${control.name}"]`);
    if (!(slot instanceof HTMLElement)) continue;
    const v = control.validity;
    const field = labelOf(form, control.name) ?? control.name;
    const message = v.valueMissing ? T["dashboard.value_missing"]
      : v.rangeUnderflow || v.rangeOverflow ? T["dashboard.out_of_range"]
      : v.typeMismatch ? T["dashboard.not_a_url"] : T["dashboard.not_whole"];
    sayWithDetail(slot, fill(message, { field, min: Number(control.min),
                                        max: Number(control.max) }, lang));
    if (valid) control.focus();
    valid = false;
  }
  return valid;
}

/**
 * The form's control of that name, of the kind the template promises.
 * @template {HTMLElement} E
 * @param {HTMLFormElement} form
 * @param {string} name
 * @param {new () => E} kind
 * @returns {E}
 */
export function field(form, name, kind) {
  const found = form.elements.namedItem(name);
  if (!(found instanceof kind)) throw new Error(`${name} is not a ${kind.name} of this form`);
  return found;
}

/**
 * Destructive buttons ask once more: the first click arms, the second acts.
 * @param {HTMLElement} button
 * @param {() => unknown} action
 */
export function confirming(button, action) {
  const label = button.textContent ?? "";
  const disarm = () => {
    delete button.dataset.armed;
    text(button, label);
  };
  button.addEventListener("click", () => {
    if (button.dataset.armed) {
      disarm();
      action();
      return;
    }
    button.dataset.armed = "1";
    text(button, T["dashboard.confirm"]);
    setTimeout(disarm, 5000);
  });
}
