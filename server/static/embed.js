// The embed generator: every widget parameter as a control, a live preview, and the iframe
// code that shows exactly what the preview shows (the preview loads the very same URL).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("castimer-config").textContent);
  var T = config.text;
  var defaults = config.defaults;
  var el = function (id) { return document.getElementById(id); };
  var form = el("settings");
  var preview = el("preview");
  var code = el("code");
  var pending = null;
  // The reference's allowed frame sizes.
  var SIZE = { width: [100, 600], height: [200, 600] };

  function value(id) {
    return el(id).value.trim();
  }

  function size(id) {
    var n = Math.round(Number(value(id)));
    var range = SIZE[id];
    return Math.min(range[1], Math.max(range[0], isFinite(n) && n ? n : 360));
  }

  // Only what differs from the widget's defaults goes into the URL: shorter code, same widget.
  function widgetUrl() {
    var q = new URLSearchParams();
    var timer = value("timer");
    var type = value("type");
    if (timer) {
      q.set("timer", timer);
    } else {
      if (type !== "countdown") q.set("type", type);
      if (type === "countdown") q.set("duration", value("duration") || defaults.duration);
      if (type === "event") {
        q.set("target_date", value("target_date"));
        if (value("timezone") !== "UTC") q.set("timezone", value("timezone"));
      }
      if (type === "interval") {
        ["work", "rest", "rounds"].forEach(function (name) {
          if (value(name) !== String(defaults[name])) q.set(name, value(name));
        });
      }
    }
    if (value("title")) q.set("title", value("title"));
    if (value("theme") !== "dark") q.set("theme", value("theme"));
    var color = value("primary_color").replace(/^#/, "");
    if (color.toUpperCase() !== defaults.primary_color) q.set("primary_color", color);
    if (value("lang") !== "en") q.set("lang", value("lang"));
    ["show_title", "show_date", "alarm", "show_brand"].forEach(function (name) {
      if (!el(name).checked && (name !== "show_date" || timer || type === "event")) {
        q.set(name, "0");
      }
    });
    return "/widget?" + q.toString();
  }

  function attribute(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")
      .replace(/>/g, "&gt;");
  }

  function update() {
    // The preview loads from this page's own origin (its CSP allows only that); the code to
    // copy names the server's public address.
    var path = widgetUrl();
    var url = config.base + path;
    var width = size("width");
    var height = size("height");
    // A live timer brings its own type and times; show_date stays, it may be an event.
    var live = value("timer") !== "";
    el("timing").hidden = live;
    form.querySelectorAll("[data-for]").forEach(function (label) {
      label.hidden = !live && label.dataset.for !== value("type");
    });
    code.value = '<iframe src="' + attribute(url) + '" style="width:' + width + "px;height:" +
      height + 'px;border:none;" loading="lazy" title="' +
      attribute(value("title") || T["embed.frame_title"]) + '" allow="autoplay"></iframe>';
    preview.style.width = width + "px";
    preview.style.height = height + "px";
    if (preview.getAttribute("src") !== path) preview.src = path;
    el("copied").textContent = "";
  }

  // Typing would reload the preview at every key; wait for a pause.
  function later() {
    clearTimeout(pending);
    pending = setTimeout(update, 250);
  }

  function copied(ok) {
    el("copied").textContent = ok ? T["embed.copied"] : T["embed.copy_failed"];
  }

  el("copy").addEventListener("click", function () {
    update();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(code.value).then(function () { copied(true); },
                                                     function () { copied(false); });
    } else {
      code.select();
      copied(document.execCommand("copy"));
    }
  });
  el("color_picker").addEventListener("input", function () {
    el("primary_color").value = el("color_picker").value.slice(1).toUpperCase();
    later();
  });
  el("primary_color").addEventListener("input", function () {
    var color = value("primary_color").replace(/^#/, "");
    if (/^([0-9a-f]{3}){1,2}$/i.test(color)) {
      el("color_picker").value = "#" + (color.length === 3 ? color.replace(/(.)/g, "$1$1")
        : color);
    }
  });
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", function (event) { event.preventDefault(); });

  // An event a week from now, on the hour, as the starting suggestion.
  var week = new Date(Date.now() + 7 * 86400000);
  week.setUTCMinutes(0, 0, 0);
  el("target_date").value = week.toISOString().replace(".000Z", "Z");
  if (Intl.supportedValuesOf) {
    var zones = el("zones");
    Intl.supportedValuesOf("timeZone").forEach(function (zone) {
      var option = document.createElement("option");
      option.value = zone;
      zones.appendChild(option);
    });
  }
  update();
})();
