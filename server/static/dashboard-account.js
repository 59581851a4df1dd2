// The dashboard's account: plan, limits and today's requests; the webhook signing secret,
// shown only on request, and its rotation; the API keys.
(function () {
  "use strict";
  var C = window.Castimer;
  var D = window.Dashboard;
  var T = D.T;
  var lang = D.lang;
  var el = D.el;
  var api = D.api;
  var text = D.text;
  var say = D.say;
  var when = D.when;
  var notice = D.notice;
  var confirming = D.confirming;

  function loadAccount() {
    return api("GET", "/account").then(function (account) {
      text(el("plan"), account.plan);
      var limits = account.limits;
      text(el("limits"), C.fill(limits.requests_per_day === null ? T["dashboard.limits_no_day"]
        : T["dashboard.limits"], { minute: limits.requests_per_minute,
                                   day: limits.requests_per_day }, lang));
      text(el("usage"), C.fill(T["dashboard.usage"], {
        n: account.usage.requests_today }, lang));
      showOverlap(account);
    });
  }

  function showOverlap(account) {
    var until = account.previous_webhook_secret_expires_at;
    say(el("secret-overlap"), until ? C.fill(T["dashboard.secret_overlap"], {
      until: when(until) }, lang) : "");
  }

  var secretShown = false;
  el("reveal-secret").addEventListener("click", function () {
    secretShown = !secretShown;
    text(el("reveal-secret"), T[secretShown ? "dashboard.hide" : "dashboard.reveal"]);
    if (!secretShown) return text(el("secret"), T["dashboard.hidden"]);
    // Fetched on demand and not kept: the page holds the secret only while it is shown.
    api("GET", "/account").then(function (account) {
      if (secretShown) text(el("secret"), account.webhook_secret);
    }, notice);
  });
  confirming(el("rotate-secret"), function () {
    api("POST", "/account/webhook-secret/rotate").then(function (secret) {
      secretShown = true;
      text(el("reveal-secret"), T["dashboard.hide"]);
      text(el("secret"), secret.webhook_secret);
      showOverlap(secret);
      notice(null);
    }, notice);
  });

  function showKey(key) {
    var row = el("key-template").content.firstElementChild.cloneNode(true);
    row.dataset.keyId = key.id;
    text(row.querySelector(".prefix"), key.prefix + "…");
    text(row.querySelector(".created"), when(key.created_at));
    text(row.querySelector(".used"), when(key.last_used_at));
    text(row.querySelector(".key-status"), key.revoked_at
      ? C.fill(T["dashboard.revoked_at"], { at: when(key.revoked_at) }, lang)
      : T[key.current ? "dashboard.key_current" : "dashboard.key_active"]);
    var revoke = row.querySelector(".revoke");
    revoke.hidden = key.revoked_at !== null;
    confirming(revoke, function () {
      api("DELETE", "/keys/" + encodeURIComponent(key.id)).then(loadKeys, notice);
    });
    return row;
  }

  function loadKeys() {
    return api("GET", "/keys").then(function (keys) {
      var list = el("key-list");
      list.replaceChildren.apply(list, keys.data.map(showKey));
    });
  }

  el("create-key").addEventListener("click", function () {
    api("POST", "/keys").then(function (key) {
      text(el("new-key-value"), key.key);
      el("new-key").hidden = false;
      return loadKeys();
    }, notice);
  });
  el("dismiss-key").addEventListener("click", function () {
    text(el("new-key-value"), "");
    el("new-key").hidden = true;
  });

  D.load(loadAccount);
  D.load(loadKeys);
})();
