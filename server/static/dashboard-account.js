// @ts-check
// The dashboard's account: plan, limits and today's requests; the webhook signing secret,
// shown only on request, and its rotation; the API keys.
import { el, fill } from "./castimer.js";
import { T, api, confirming, lang, notice, say, text, when } from "./dashboard-api.js";

/**
 * @typedef {object} Key
 * @property {string} id
 * @property {string} prefix
 * @property {string} created_at
 * @property {string | null} last_used_at
 * @property {string | null} revoked_at
 * @property {boolean} current the key this session signed in with
 */

/** @param {{previous_webhook_secret_expires_at: string | null}} account */
function showOverlap(account) {
  const until = account.previous_webhook_secret_expires_at;
  say(el("secret-overlap"), until ? fill(T["dashboard.secret_overlap"], {
    until: when(until) }, lang) : "");
}

/** The plan, its limits and today's requests. */
export async function loadAccount() {
  const account = await api("GET", "/account");
  // Plan names are product names, the same in every language ("Pro", "Enterprise").
  text(el("plan"), account.plan.charAt(0).toUpperCase() + account.plan.slice(1));
  const limits = account.limits;
  text(el("limits"), fill(limits.requests_per_day === null ? T["dashboard.limits_no_day"]
    : T["dashboard.limits"], { minute: limits.requests_per_minute,
                               day: limits.requests_per_day }, lang));
  text(el("usage"), fill(T["dashboard.usage"], { n: account.usage.requests_today }, lang));
  showOverlap(account);
}

let secretShown = false;
const reveal = el("reveal-secret");
reveal.addEventListener("click", () => {
  secretShown = !secretShown;
  text(reveal, T[secretShown ? "dashboard.hide" : "dashboard.reveal"]);
  if (!secretShown) {
    text(el("secret"), T["dashboard.hidden"]);
    return;
  }
  // Fetched on demand and not kept: the page holds the secret only while it is shown.
  api("GET", "/account").then((account) => {
    if (secretShown) text(el("secret"), account.webhook_secret);
  }, notice);
});
confirming(el("rotate-secret"), () => {
  api("POST", "/account/webhook-secret/rotate").then((secret) => {
    secretShown = true;
    text(reveal, T["dashboard.hide"]);
    text(el("secret"), secret.webhook_secret);
    showOverlap(secret);
    notice(null);
  }, notice);
});

/**
 * @param {HTMLElement} row
 * @param {string} selector
 */
function cell(row, selector) {
  const found = row.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`${selector} is not in a key's entry`);
  return found;
}

/** @param {Key} key */
function showKey(key) {
  const row = el("key-template", HTMLTemplateElement).content.firstElementChild?.cloneNode(true);
  if (!(row instanceof HTMLElement)) throw new Error("#key-template holds no key");
  row.dataset.keyId = key.id;
  text(cell(row, ".prefix"), `${key.prefix}…`);
  text(cell(row, ".created"), when(key.created_at));
  text(cell(row, ".used"), when(key.last_used_at));
  text(cell(row, ".key-status"), key.revoked_at
    ? fill(T["dashboard.revoked_at"], { at: when(key.revoked_at) }, lang)
    : T[key.current ? "dashboard.key_current" : "dashboard.key_active"]);
  const revoke = cell(row, ".revoke");
  revoke.hidden = key.revoked_at !== null;
  confirming(revoke, () => {
    api("DELETE", `/keys/${encodeURIComponent(key.id)}`).then(loadKeys, notice);
  });
  return row;
}

/** The account's API keys, by prefix. */
export async function loadKeys() {
  /** @type {{data: Key[]}} */
  const keys = await api("GET", "/keys");
  el("key-list").replaceChildren(...keys.data.map(showKey));
}

el("create-key").addEventListener("click", () => {
  api("POST", "/keys").then((key) => {
    text(el("new-key-value"), key.key);
    el("new-key").hidden = false;
    return loadKeys();
  }, notice);
});
el("dismiss-key").addEventListener("click", () => {
  text(el("new-key-value"), "");
  el("new-key").hidden = true;
});
