// The dashboard's plumbing, shared by its scripts: the page's config, requests to the real
// /api/v1 (the session cookie rides along; changes carry the page's CSRF token), text-only
// output, error messages beside their fields, and confirmation of destructive buttons.
// dashboard-timers.js and dashboard-account.js register what the page loads first.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("castimer-config").textContent);
  var T = config.text;
  var lang = config.lang;
  var el = function (id) { return document.getElementById(id); };
  var dates = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" });
  var loaders = [];

  function when(iso) {
    return iso ? dates.format(new Date(iso)) : T["dashboard.never"];
  }

  function text(node, value) {
    node.textContent = value; // titles, URLs and responses stay text
    return node;
  }

  // A request to the API. A 401 means the session's key is gone: the reloaded page says so.
  function api(method, path, body) {
    var headers = {};
    if (method !== "GET") headers[config.csrf_header] = config.csrf;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, init).then(function (response) {
      if (response.status === 401) {
        location.reload();
        return new Promise(function () {});
      }
      if (response.status === 204) return null;
      return response.json().then(function (data) {
        if (response.ok) return data;
        var error = new Error(data.error.message);
        error.param = data.error.param;
        throw error;
      });
    });
  }

  function say(node, message) {
    text(node, message || "");
    node.hidden = !message;
  }

  function notice(error) {
    say(el("notice"), error ? error.message : "");
  }

  // The API's message beside the field it names, or at the form's foot.
  function showErrors(form, error) {
    var slots = Array.prototype.slice.call(form.querySelectorAll("[data-error]"));
    slots.forEach(function (slot) { say(slot, ""); });
    if (!error) return;
    var slot = slots.filter(function (s) { return s.dataset.error === error.param; })[0] ||
      slots.filter(function (s) { return s.dataset.error === ""; })[0];
    say(slot, error.message);
  }

  // Destructive buttons ask once more: the first click arms, the second acts.
  function confirming(button, action) {
    var label = button.textContent;
    var disarm = function () {
      delete button.dataset.armed;
      text(button, label);
    };
    button.addEventListener("click", function () {
      if (button.dataset.armed) {
        disarm();
        return action();
      }
      button.dataset.armed = "1";
      text(button, T["dashboard.confirm"]);
      setTimeout(disarm, 5000);
    });
  }
  // Once every script has registered its loaders: the page says when all have answered.
  document.addEventListener("DOMContentLoaded", function () {
    Promise.all(loaders.map(function (load) { return load(); })).then(function () {
      document.body.dataset.loaded = "true";
    }, notice);
  });

  window.Dashboard = {
    config: config, T: T, lang: lang, el: el, when: when, text: text, api: api, say: say,
    notice: notice, showErrors: showErrors, confirming: confirming,
    load: function (loader) { loaders.push(loader); }
  };
})();
