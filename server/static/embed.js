// @ts-check
// The embed generator: every widget parameter as a control, a live preview, and the iframe
// code that shows exactly what the preview shows (the preview loads the very same URL).
// Each change is checked by the server with the widget's own rules (/embed/check): a refused
// value is flagged beside its field with the widget's message, and the code and the preview
// keep the last settings that passed, so an invalid value never reaches the code.
import { el, readConfig } from "./castimer.js";

/**
 * @typedef {object} EmbedConfig
 * @property {string} lang the page's
 * @property {string} base the server's public address
 * @property {Record<string, string>} text
 * @property {{duration: number, work: number, rest: number, rounds: number,
 *             primary_color: string}} defaults the widget's
 */

/** @typedef {{param: string, message: string}} Problem as /embed/check words it */

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
/** Checks sent: an answer to an older one than the latest is dropped. */
let asked = 0;

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

/**
 * The picker's local date and time as ISO 8601 with this browser's offset, as the widget
 * takes it ("" stays "": the widget says the date is required).
 * @param {string} local "2026-05-10T14:30" or with seconds
 */
function withOffset(local) {
  if (!local) return "";
  const moment = new Date(local);
  if (Number.isNaN(moment.getTime())) return local;
  const minutes = -moment.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const pad = (/** @type {number} */ n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const seconds = local.length === 16 ? `${local}:00` : local;
  return `${seconds}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
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
      if (value("target_date")) q.set("target_date", withOffset(value("target_date")));
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

/**
 * The messages beside their fields; true when there are none.
 * @param {Problem[]} problems
 */
function flag(problems) {
  /** @type {NodeListOf<HTMLElement>} */
  const slots = form.querySelectorAll("[data-error]");
  for (const slot of slots) {
    const mine = problems.filter((p) => p.param === slot.dataset.error);
    slot.textContent = mine.map((p) => p.message).join(" ");
    slot.hidden = mine.length === 0;
    const control = document.getElementById(slot.dataset.error ?? "");
    if (control) control.toggleAttribute("aria-invalid", mine.length > 0);
  }
  el("stale").hidden = problems.length === 0;
  return problems.length === 0;
}

/** @param {string} path @param {number} width @param {number} height */
function show(path, width, height) {
  // The preview loads from this page's own origin (its CSP allows only that); the code to
  // copy names the server's public address.
  const url = config.base + path;
  code.value = `<iframe src="${attribute(url)}" style="width:${width}px;height:${height}px;` +
    `border:none;" loading="lazy" title="${attribute(value("title") || T["embed.frame_title"])}"` +
    ` allow="autoplay"></iframe>`;
  // The whole code in view, however long the title or the URL.
  code.style.height = "auto";
  code.style.height = `${code.scrollHeight + 2}px`;
  preview.style.width = `${width}px`;
  preview.style.height = `${height}px`;
  fit();
  if (preview.getAttribute("src") !== path) preview.src = path;
}

/**
 * The preview at its real size where the stage has room, else scaled down to the stage's
 * width (a phone): the whole widget in view, as it would look in a narrower frame's place.
 */
function fit() {
  const stage = preview.parentElement;
  if (!stage) return;
  const room = stage.clientWidth - parseFloat(getComputedStyle(stage).paddingLeft) -
    parseFloat(getComputedStyle(stage).paddingRight);
  const width = parseFloat(preview.style.width);
  const height = parseFloat(preview.style.height);
  const scale = width > room && room > 0 ? room / width : 1;
  // A transform leaves the layout box as it was: negative margins give back what it shrank.
  preview.style.transform = scale < 1 ? `scale(${scale})` : "";
  preview.style.transformOrigin = "0 0";
  preview.style.marginRight = scale < 1 ? `${width * (scale - 1)}px` : "";
  preview.style.marginBottom = scale < 1 ? `${height * (scale - 1)}px` : "";
  preview.style.marginLeft = scale < 1 ? "0" : "";
}

/** @returns {Promise<void>} settles when the code shows the settings, or why it does not */
function update() {
  // A live timer brings its own type and times; show_date stays, it may be an event.
  const live = value("timer") !== "";
  el("timing").hidden = live;
  /** @type {NodeListOf<HTMLElement>} */
  const typed = form.querySelectorAll("[data-for]");
  for (const label of typed) label.hidden = !live && label.dataset.for !== value("type");
  copiedNote.textContent = "";
  const path = widgetUrl();
  const width = value("width");
  const height = value("height");
  const check = new URLSearchParams(path.slice(path.indexOf("?") + 1));
  check.set("width", width);
  check.set("height", height);
  check.set("ui", config.lang);
  const mine = ++asked;
  form.dataset.checking = "true";
  return fetch("/embed/check?" + check.toString()).then((response) => response.json()).then(
    (/** @type {{problems: Problem[]}} */ answer) => {
      if (mine !== asked) return;
      delete form.dataset.checking;
      if (flag(answer.problems)) show(path, Number(width), Number(height));
    }, () => {
      if (mine === asked) delete form.dataset.checking;
    });
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

// What is copied is the code as shown: the last settings that passed the widget's rules.
el("copy").addEventListener("click", () => {
  clearTimeout(pending);
  update().then(() => {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code.value).then(() => copied(true), () => copied(false));
    } else {
      code.select();
      copied(document.execCommand("copy"));
    }
  });
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

// An event a week from now, on the hour, as the starting suggestion (the picker's local time).
const week = new Date(Date.now() + 7 * 86400000);
week.setMinutes(0, 0, 0);
week.setMinutes(-week.getTimezoneOffset());
el("target_date", HTMLInputElement).value = week.toISOString().slice(0, 19);
if (Intl.supportedValuesOf) {
  const zones = el("zones");
  for (const zone of Intl.supportedValuesOf("timeZone")) {
    const option = document.createElement("option");
    option.value = zone;
    zones.appendChild(option);
  }
}
update();
new ResizeObserver(fit).observe(/** @type {HTMLElement} */ (preview.parentElement));
