// @ts-check
// The embed generator: every widget parameter as a control, a live preview, and the iframe
// code that shows exactly what the preview shows (the preview loads the very same URL).
import { el, readConfig } from "./castimer.js";

/**
 * @typedef {object} EmbedConfig
 * @property {string} base the server's public address
 * @property {Record<string, string>} text
 * @property {{duration: number, work: number, rest: number, rounds: number,
 *             primary_color: string}} defaults the widget's
 */

/** @type {EmbedConfig} */
const config = readConfig();
const T = config.text;
const defaults = config.defaults;
const form = el("settings", HTMLFormElement);
const preview = el("preview", HTMLIFrameElement);
const code = el("code", HTMLTextAreaElement);
const copiedNote = el("copied");
const picker = el("color_picker", HTMLInputElement);
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pending;
/** The reference's allowed frame sizes. */
const SIZE = { width: [100, 600], height: [200, 600] };

/** @param {string} id an input or a select of the form */
function value(id) {
  const control = el(id);
  if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement) {
    return control.value.trim();
  }
  throw new Error(`#${id} is not a form control`);
}

/** @param {string} id */
function checked(id) {
  return el(id, HTMLInputElement).checked;
}

/** @param {"width" | "height"} id */
function size(id) {
  const n = Math.round(Number(value(id)));
  const [low, high] = SIZE[id];
  return Math.min(high, Math.max(low, Number.isFinite(n) && n ? n : 360));
}

// Only what differs from the widget's defaults goes into the URL: shorter code, same widget.
function widgetUrl() {
  const q = new URLSearchParams();
  const timer = value("timer");
  const type = value("type");
  if (timer) {
    q.set("timer", timer);
  } else {
    if (type !== "countdown") q.set("type", type);
    if (type === "countdown") q.set("duration", value("duration") || String(defaults.duration));
    if (type === "event") {
      q.set("target_date", value("target_date"));
      if (value("timezone") !== "UTC") q.set("timezone", value("timezone"));
    }
    if (type === "interval") {
      for (const name of /** @type {const} */ (["work", "rest", "rounds"])) {
        if (value(name) !== String(defaults[name])) q.set(name, value(name));
      }
    }
  }
  if (value("title")) q.set("title", value("title"));
  if (value("theme") !== "dark") q.set("theme", value("theme"));
  const color = value("primary_color").replace(/^#/, "");
  if (color.toUpperCase() !== defaults.primary_color) q.set("primary_color", color);
  if (value("lang") !== "en") q.set("lang", value("lang"));
  for (const name of ["show_title", "show_date", "alarm", "show_brand"]) {
    if (!checked(name) && (name !== "show_date" || timer || type === "event")) q.set(name, "0");
  }
  return `/widget?${q}`;
}

/** @param {string} text */
function attribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

function update() {
  // The preview loads from this page's own origin (its CSP allows only that); the code to
  // copy names the server's public address.
  const path = widgetUrl();
  const url = config.base + path;
  const width = size("width");
  const height = size("height");
  // A live timer brings its own type and times; show_date stays, it may be an event.
  const live = value("timer") !== "";
  el("timing").hidden = live;
  /** @type {NodeListOf<HTMLElement>} */
  const typed = form.querySelectorAll("[data-for]");
  for (const label of typed) label.hidden = !live && label.dataset.for !== value("type");
  code.value = `<iframe src="${attribute(url)}" style="width:${width}px;height:${height}px;` +
    `border:none;" loading="lazy" title="${attribute(value("title") || T["embed.frame_title"])}"` +
    ` allow="autoplay"></iframe>`;
  preview.style.width = `${width}px`;
  preview.style.height = `${height}px`;
  if (preview.getAttribute("src") !== path) preview.src = path;
  copiedNote.textContent = "";
}

// Typing would reload the preview at every key; wait for a pause.
function later() {
  clearTimeout(pending);
  pending = setTimeout(update, 250);
}

/** @param {boolean} ok */
function copied(ok) {
  copiedNote.textContent = ok ? T["embed.copied"] : T["embed.copy_failed"];
}

el("copy").addEventListener("click", () => {
  update();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(code.value).then(() => copied(true), () => copied(false));
  } else {
    code.select();
    copied(document.execCommand("copy"));
  }
});
picker.addEventListener("input", () => {
  el("primary_color", HTMLInputElement).value = picker.value.slice(1).toUpperCase();
  later();
});
el("primary_color").addEventListener("input", () => {
  const color = value("primary_color").replace(/^#/, "");
  if (/^([0-9a-f]{3}){1,2}$/i.test(color)) {
    picker.value = `#${color.length === 3 ? color.replace(/(.)/g, "$1$1") : color}`;
  }
});
form.addEventListener("input", later);
form.addEventListener("change", later);
form.addEventListener("submit", (event) => event.preventDefault());

// An event a week from now, on the hour, as the starting suggestion.
const week = new Date(Date.now() + 7 * 86400000);
week.setUTCMinutes(0, 0, 0);
el("target_date", HTMLInputElement).value = week.toISOString().replace(".000Z", "Z");
if (Intl.supportedValuesOf) {
  const zones = el("zones");
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    const option = document.createElement("option");
    option.value = zone;
    zones.appendChild(option);
  }
}
update();
