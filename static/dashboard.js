// The dashboard: timers with their live state, control, links, webhooks and deliveries; the
// account, its signing secret and its keys. Every request goes to the real /api/v1 with the
// session cookie and the page's CSRF token; everything a user typed is shown as text.
(function () {
  "use strict";
  var C = window.Castimer;
  var config = JSON.parse(document.getElementById("castimer-config").textContent);
  var T = config.text;
  var lang = config.lang;
  var el = function (id) { return document.getElementById(id); };
  var cards = {}; // timer id → {timer (as the API returned it), live (latest state), node, …}
  var dates = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" });
  var TIMING = { countdown: ["duration"], event: ["target_date", "timezone"],
                 interval: ["work", "rest", "rounds"] };

  function when(iso) {
    return iso ? dates.format(new Date(iso)) : T["dashboard.never"];
  }

  function text(node, value) {
    node.textContent = value; // titles, URLs and responses stay text
    return node;
  }

  function part(card, selector) {
    return card.node.querySelector(selector);
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

  function number(form, name) {
    var value = form.elements[name].value.trim();
    return value === "" ? undefined : Number(value);
  }

  function timing(form, type) {
    var body = {};
    TIMING[type].forEach(function (name) {
      var value = form.elements[name].type === "number" ? number(form, name)
        : form.elements[name].value.trim();
      if (value !== undefined && value !== "") body[name] = value;
    });
    return body;
  }

  function showFields(form, type) {
    form.querySelectorAll("[data-for]").forEach(function (label) {
      label.hidden = label.dataset.for !== type;
    });
  }

  // -- timers --------------------------------------------------------------------------------

  function enable(card) {
    var t = card.live;
    var allowed = {
      start: t.state === "idle", pause: t.state === "running" && t.type !== "event",
      resume: t.state === "paused", reset: t.state !== "idle"
    };
    card.node.querySelectorAll("[data-command]").forEach(function (button) {
      button.disabled = !allowed[button.dataset.command];
    });
    card.node.querySelectorAll("[data-seconds]").forEach(function (button) {
      button.disabled = t.type === "event" || t.state === "completed";
    });
  }

  // A timer as the API returned it: its owner's fields, and its state if that is news.
  function showTimer(card, timer) {
    if (timer.version >= card.timer.version) card.timer = timer;
    if (timer.version >= card.live.version) {
      card.live = timer;
      showLive(card);
    }
    // Open forms keep what the user is typing; closed ones follow the timer.
    if (!part(card, ".edit").open) fillEdit(card);
    if (!part(card, ".webhooks").open) fillHooks(card);
    part(card, ".widget-url").value = card.timer.urls.widget;
    part(card, ".embed-code").value = card.timer.urls.embed;
    if (card.controlShown) text(part(card, ".control-url"), card.timer.urls.control);
  }

  function showLive(card) {
    text(part(card, ".title"), card.live.title || T["dashboard.untitled"]);
    text(part(card, ".type"), T["dashboard.type_" + card.live.type]);
    card.node.dataset.version = card.live.version;
    enable(card);
  }

  function onLive(card, message) {
    if (message.type === "deleted") return removeCard(card.timer.id);
    if (!message.timer || message.v < card.live.version) return;
    card.live = message.timer;
    showLive(card);
  }

  function act(card, method, path, body) {
    var message = part(card, ".message");
    return api(method, "/timers/" + encodeURIComponent(card.timer.id) + path, body)
      .then(function (timer) {
        say(message, "");
        if (timer) showTimer(card, timer);
      }, function (error) { say(message, error.message); });
  }

  function fillEdit(card) {
    var form = part(card, ".edit-form");
    var timer = card.timer;
    form.elements.title.value = timer.title || "";
    showFields(form, timer.type);
    TIMING[timer.type].forEach(function (name) { form.elements[name].value = timer[name]; });
  }

  function fillHooks(card) {
    var timer = card.timer;
    var hooks = part(card, ".webhook-form");
    hooks.elements.webhook_url.value = timer.webhook_url || "";
    hooks.elements.all_events.checked = timer.webhook_events === null;
    hooks.querySelectorAll("[name=event]").forEach(function (box) {
      box.checked = timer.webhook_events === null || timer.webhook_events.indexOf(box.value) >= 0;
      box.disabled = hooks.elements.all_events.checked;
    });
  }

  function wire(card) {
    var id = function () { return encodeURIComponent(card.timer.id); };
    card.node.querySelectorAll("[data-command]").forEach(function (button) {
      button.addEventListener("click", function () {
        act(card, "PATCH", "/state", { action: button.dataset.command });
      });
    });
    card.node.querySelectorAll("[data-seconds]").forEach(function (button) {
      button.addEventListener("click", function () {
        act(card, "POST", "/adjust", { seconds: Number(button.dataset.seconds) });
      });
    });
    confirming(part(card, ".delete"), function () {
      api("DELETE", "/timers/" + id()).then(function () { removeCard(card.timer.id); },
        function (error) { say(part(card, ".message"), error.message); });
    });
    part(card, ".reveal-control").addEventListener("click", function () {
      card.controlShown = !card.controlShown;
      text(part(card, ".control-url"), card.controlShown ? card.timer.urls.control
        : T["dashboard.hidden"]);
      text(part(card, ".reveal-control"), T[card.controlShown ? "dashboard.hide"
        : "dashboard.reveal"]);
    });
    confirming(part(card, ".rotate-control"), function () {
      act(card, "POST", "/control-token/rotate");
    });
    part(card, ".edit-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      var body = timing(form, card.timer.type);
      Object.keys(body).forEach(function (name) {
        if (body[name] === card.timer[name]) delete body[name]; // timing changes only while idle
      });
      body.title = form.elements.title.value;
      api("PATCH", "/timers/" + id(), body).then(function (timer) {
        showErrors(form, null);
        showTimer(card, timer);
        part(card, ".edit").open = false;
      }, function (error) { showErrors(form, error); });
    });
    var hooks = part(card, ".webhook-form");
    hooks.elements.all_events.addEventListener("change", function () {
      hooks.querySelectorAll("[name=event]").forEach(function (box) {
        box.disabled = hooks.elements.all_events.checked;
      });
    });
    hooks.addEventListener("submit", function (event) {
      event.preventDefault();
      var url = hooks.elements.webhook_url.value.trim();
      var chosen = Array.prototype.slice.call(hooks.querySelectorAll("[name=event]:checked"))
        .map(function (box) { return box.value; });
      api("PATCH", "/timers/" + id(), {
        webhook_url: url || null,
        webhook_events: hooks.elements.all_events.checked ? null : chosen
      }).then(function (timer) {
        showErrors(hooks, null);
        showTimer(card, timer);
        say(part(card, ".saved"), T["dashboard.saved"]);
      }, function (error) { showErrors(hooks, error); });
    });
    part(card, ".webhooks").addEventListener("toggle", function () {
      if (part(card, ".webhooks").open) loadDeliveries(card);
    });
    part(card, ".send-test").addEventListener("click", function () {
      api("POST", "/timers/" + id() + "/webhooks/test").then(function () {
        showErrors(hooks, null);
        loadDeliveries(card);
      }, function (error) { showErrors(hooks, error); });
    });
    part(card, ".refresh-deliveries").addEventListener("click", function () {
      loadDeliveries(card);
    });
  }

  function addCard(timer) {
    var node = el("timer-template").content.firstElementChild.cloneNode(true);
    node.dataset.timerId = timer.id;
    var card = { timer: timer, live: timer, node: node, shown: {}, openAttempts: {},
                 controlShown: false, polls: 0 };
    cards[timer.id] = card;
    wire(card);
    showTimer(card, timer);
    el("timer-list").appendChild(node);
    el("no-timers").hidden = true;
    card.connection = C.connect({
      path: "/ws/timers/" + encodeURIComponent(timer.id), auth: null, guess: null,
      onMessage: function (message) { onLive(card, message); },
      onStatus: function (status) { node.dataset.connection = status; }
    });
  }

  function removeCard(timerId) {
    var card = cards[timerId];
    if (!card) return;
    delete cards[timerId];
    card.connection.close();
    card.node.remove();
    el("no-timers").hidden = Object.keys(cards).length > 0;
  }

  function loadTimers(cursor) {
    var path = "/timers?limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    return api("GET", path).then(function (page) {
      page.data.forEach(addCard);
      if (page.has_more) return loadTimers(page.next_cursor);
      el("no-timers").hidden = Object.keys(cards).length > 0;
    });
  }

  function setShown(card, selector, value) {
    if (card.shown[selector] === value) return;
    card.shown[selector] = value;
    text(part(card, selector), value);
  }

  function frame() {
    Object.keys(cards).forEach(function (id) {
      var card = cards[id];
      var t = card.live;
      var view = C.view(t, card.connection.serverNow());
      var parts = C.clock(C.seconds(view.shown), lang);
      setShown(card, ".time", (parts.days ? C.daysLabel(parts.days, lang) + " " : "") +
               parts.text);
      setShown(card, ".round", view.round ? C.fill(T["widget.round"], {
        round: view.round, rounds: t.rounds }, lang) +
        (view.phase ? " · " + T["widget." + view.phase] : "") : "");
      setShown(card, ".state", T["widget." + (view.remaining === 0 ? "completed" : view.state)]);
      card.node.dataset.state = view.state;
    });
    requestAnimationFrame(frame);
  }

  // -- webhook deliveries ----------------------------------------------------------------------

  function showAttempts(list, delivery) {
    list.replaceChildren();
    delivery.attempts.forEach(function (attempt) {
      var item = document.createElement("li");
      var outcome = attempt.status_code === null ? attempt.error || T["dashboard.no_answer"]
        : String(attempt.status_code);
      text(item.appendChild(document.createElement("span")), C.fill(T["dashboard.attempt"], {
        number: attempt.number, at: when(attempt.at), ms: attempt.duration_ms }, lang));
      text(item.appendChild(document.createElement("strong")), " " + outcome + " ")
        .className = "status-code";
      if (attempt.response) {
        text(item.appendChild(document.createElement("code")), attempt.response)
          .className = "response";
      }
      list.appendChild(item);
    });
  }

  function loadAttempts(card, deliveryId, list) {
    api("GET", "/deliveries/" + encodeURIComponent(deliveryId)).then(function (delivery) {
      showAttempts(list, delivery);
    }, function (error) { say(part(card, ".message"), error.message); });
  }

  function showDelivery(card, delivery) {
    var node = el("delivery-template").content.firstElementChild.cloneNode(true);
    node.dataset.deliveryId = delivery.id;
    node.dataset.status = delivery.status;
    text(node.querySelector(".event"), delivery.event);
    text(node.querySelector(".status"), T["dashboard.status_" + delivery.status]);
    text(node.querySelector(".attempt-count"),
         C.fill(T["dashboard.attempts_made"], { n: delivery.attempt_count }, lang));
    text(node.querySelector(".created"), when(delivery.created_at));
    text(node.querySelector(".url"), delivery.url);
    var list = node.querySelector(".attempts");
    node.querySelector(".show-attempts").addEventListener("click", function () {
      card.openAttempts[delivery.id] = true;
      loadAttempts(card, delivery.id, list);
    });
    if (card.openAttempts[delivery.id]) loadAttempts(card, delivery.id, list);
    var retry = node.querySelector(".retry");
    retry.hidden = delivery.status === "pending";
    retry.addEventListener("click", function () {
      api("POST", "/deliveries/" + encodeURIComponent(delivery.id) + "/retry").then(function () {
        loadDeliveries(card);
      }, function (error) { say(part(card, ".message"), error.message); });
    });
    return node;
  }

  // While a delivery is pending the log looks again each second, for a minute at most.
  function loadDeliveries(card) {
    clearTimeout(card.poll);
    return api("GET", "/timers/" + encodeURIComponent(card.timer.id) + "/deliveries?limit=20")
      .then(function (page) {
        var list = part(card, ".deliveries");
        list.replaceChildren.apply(list, page.data.map(function (delivery) {
          return showDelivery(card, delivery);
        }));
        say(part(card, ".no-deliveries"), page.data.length ? "" : T["dashboard.no_deliveries"]);
        var pending = page.data.some(function (d) { return d.status === "pending"; });
        card.polls = pending ? card.polls + 1 : 0;
        if (pending && card.polls < 60 && cards[card.timer.id]) {
          card.poll = setTimeout(function () { loadDeliveries(card); }, 1000);
        }
      }, function (error) { say(part(card, ".message"), error.message); });
  }

  // -- create ----------------------------------------------------------------------------------

  var create = el("create");
  showFields(create, create.elements.type.value);
  create.elements.type.addEventListener("change", function () {
    showFields(create, create.elements.type.value);
    showErrors(create, null);
  });
  create.addEventListener("submit", function (event) {
    event.preventDefault();
    var type = create.elements.type.value;
    var body = timing(create, type);
    body.type = type;
    body.title = create.elements.title.value;
    var hook = create.elements.webhook_url.value.trim();
    if (hook) body.webhook_url = hook;
    api("POST", "/timers", body).then(function (timer) {
      showErrors(create, null);
      create.elements.title.value = "";
      addCard(timer);
    }, function (error) { showErrors(create, error); });
  });

  // -- account, signing secret, keys -----------------------------------------------------------

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

  Promise.all([loadTimers(), loadAccount(), loadKeys()]).then(function () {
    document.body.dataset.loaded = "true";
  }, notice);
  frame();
})();
