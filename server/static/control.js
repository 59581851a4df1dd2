// The presenter page: the timer big, its commands as buttons and keys, the connection and the
// measured clock-sync error. The control token comes from the URL fragment, which the browser
// never sends to any server, and goes only into the socket's first message.
(function () {
  "use strict";
  var C = window.Castimer;
  var config = JSON.parse(document.getElementById("castimer-config").textContent);
  var T = config.text;
  var lang = config.lang;
  var el = function (id) { return document.getElementById(id); };
  var token = new URLSearchParams(location.hash.slice(1)).get("token");
  var timer = null;
  var version = 0;
  var req = 0;
  var shown = {};
  var connection = null;

  function set(id, text) {
    if (shown[id] === text) return;
    shown[id] = text;
    el(id).textContent = text; // untrusted titles stay text
    el(id).hidden = text === "";
  }

  function say(text) {
    set("message", text);
  }

  // Which commands make sense now; the server decides in the end (and says why not).
  function enable() {
    var state = timer ? timer.state : null;
    var live = shown.connection === T["control.live"];
    var allowed = {
      start: state === "idle", pause: state === "running" && timer.type !== "event",
      resume: state === "paused", reset: state !== null && state !== "idle"
    };
    document.querySelectorAll("[data-command]").forEach(function (button) {
      button.disabled = !live || !allowed[button.dataset.command];
    });
    document.querySelectorAll("[data-seconds]").forEach(function (button) {
      button.disabled = !live || !timer || timer.type === "event" || state === "completed";
    });
  }

  function command(name, seconds) {
    req += 1;
    var message = { type: "command", req: req, command: name };
    if (name === "adjust") message.seconds = seconds;
    if (!connection || !connection.send(message)) say(T["control.reconnecting"]);
  }

  function toggle() {
    if (!timer) return;
    var next = { idle: "start", running: "pause", paused: "resume" }[timer.state];
    if (next) command(next);
  }

  function onMessage(message) {
    if (message.type === "ack") {
      if (!message.ok) say(C.fill(T["control.refused"], { message: message.error.message }));
      else say("");
      return;
    }
    if (message.type === "deleted") {
      timer = null;
      set("state", T["widget.deleted"]);
      return enable();
    }
    if (!message.timer || message.v < version) return;
    version = message.v;
    timer = message.timer;
    set("title", timer.title || "");
    enable();
  }

  var statusWords = {
    connecting: "control.connecting", reconnecting: "control.reconnecting",
    live: "control.live", unauthorized: "control.bad_token", forbidden: "control.bad_token",
    not_found: "control.not_found", deleted: "widget.deleted"
  };

  function onStatus(status) {
    var words = T[statusWords[status]];
    set("connection", status === "live" || status === "connecting" ||
        status === "reconnecting" ? words : "");
    document.body.dataset.connection = status;
    if (statusWords[status] && !/live|connecting/.test(status)) say(words);
    else if (status === "live") say("");
    enable();
  }

  function frame() {
    if (timer) {
      var view = C.view(timer, connection.serverNow());
      var parts = C.clock(C.seconds(view.shown), lang);
      set("time", parts.text);
      set("days", parts.days ? C.daysLabel(parts.days, lang) : "");
      set("round", view.round ? C.fill(T["widget.round"], { round: view.round,
                                                            rounds: timer.rounds }, lang) +
          (view.phase ? " · " + T["widget." + view.phase] : "") : "");
      set("state", T["widget." + (view.remaining === 0 ? "completed" : view.state)]);
      document.body.dataset.state = view.state;
    }
    var error = connection.syncError();
    set("sync", error === null ? T["control.sync_pending"]
      : C.fill(T["control.sync"], { ms: Math.max(1, Math.round(error)) }, lang));
    requestAnimationFrame(frame);
  }

  document.querySelectorAll("[data-command]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      command(button.dataset.command);
      if (event.detail) button.blur(); // after a tap, Space is the shortcut again
    });
  });
  document.querySelectorAll("[data-seconds]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      command("adjust", Number(button.dataset.seconds));
      if (event.detail) button.blur();
    });
  });
  var keys = { ArrowRight: 10, ArrowLeft: -10, ArrowUp: 60, ArrowDown: -60 };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    // A focused button already answers Space and Enter itself.
    if (event.target.tagName === "BUTTON" && (event.key === " " || event.key === "Enter")) {
      return;
    }
    if (event.key === " ") toggle();
    else if (event.key === "r" || event.key === "R") command("reset");
    else if (keys[event.key]) command("adjust", keys[event.key]);
    else return;
    event.preventDefault();
  });

  if (!token) {
    say(T["control.no_token"]);
    set("connection", "");
    return;
  }
  connection = C.connect({
    path: "/ws/control/" + encodeURIComponent(config.timer_id),
    auth: { type: "auth", token: token }, guess: null, onMessage: onMessage, onStatus: onStatus
  });
  frame();
})();
