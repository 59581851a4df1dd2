// The dashboard's timers: each with its live state (over the viewer socket), commands, links,
// edit and webhook forms and its delivery log with attempts and retry; and the create form.
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
  var showErrors = D.showErrors;
  var confirming = D.confirming;
  var cards = {}; // timer id → {timer (as the API returned it), live (latest state), node, …}
  var TIMING = { countdown: ["duration"], event: ["target_date", "timezone"],
                 interval: ["work", "rest", "rounds"] };

  function part(card, selector) {
    return card.node.querySelector(selector);
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
                 controlShown: false, looks: 0 };
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
    clearTimeout(card.poll);
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

  // The log looks again when a pending delivery's next attempt is due (at least a second
  // apart), not on a fixed beat: every look counts against the account's rate limit, and an
  // attempt due in hours is left to the refresh button.
  var LOOK_AHEAD = 300000;
  var MAX_LOOKS = 60;

  function nextLook(deliveries) {
    var due = deliveries.filter(function (d) { return d.status === "pending"; })
      .map(function (d) { return Date.parse(d.next_attempt_at) - Date.now(); });
    if (!due.length) return null;
    var wait = Math.max(1000, Math.min.apply(null, due) + 500);
    return wait <= LOOK_AHEAD ? wait : null;
  }

  function loadDeliveries(card) {
    clearTimeout(card.poll);
    return api("GET", "/timers/" + encodeURIComponent(card.timer.id) + "/deliveries?limit=20")
      .then(function (page) {
        var list = part(card, ".deliveries");
        list.replaceChildren.apply(list, page.data.map(function (delivery) {
          return showDelivery(card, delivery);
        }));
        say(part(card, ".no-deliveries"), page.data.length ? "" : T["dashboard.no_deliveries"]);
        var wait = nextLook(page.data);
        card.looks = wait === null ? 0 : card.looks + 1;
        if (wait !== null && card.looks < MAX_LOOKS && cards[card.timer.id]) {
          card.poll = setTimeout(function () { loadDeliveries(card); }, wait);
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

  D.load(loadTimers);
  frame();
})();
