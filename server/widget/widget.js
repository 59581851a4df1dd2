// The widget: a standalone timer running in the page, or a live timer that follows the server.
// Every animation frame is drawn from the authoritative state (the live timer's last message,
// or the standalone timer's start) and the clock, never by counting down a local variable, so
// it neither freezes between ticks nor drifts from other viewers.
(function () {
  "use strict";
  var C = window.Castimer;
  var config = JSON.parse(document.getElementById("castimer-config").textContent);
  var T = config.text;
  var lang = config.lang;
  var root = document.getElementById("timer");
  var parts = {};
  ["title", "date", "days", "time", "round", "status", "fill"].forEach(function (id) {
    parts[id] = document.getElementById(id);
  });
  var timer = config.timer;
  var version = timer.version || 0;
  var shown = {};
  var connection = null;
  var status = null;
  var standalone = !config.live;
  var lastRound = null;
  var finished = false;

  // The host page hears every event of the timer (source "castimer"), whatever its origin:
  // the widget shows nothing that is not public to anyone holding the URL.
  function tell(event, view) {
    if (window.parent === window) return;
    window.parent.postMessage({
      source: "castimer", event: event, timer_id: config.timer_id, state: view.state,
      remaining_ms: Math.round(view.remaining), round: view.round, phase: view.phase,
      v: version
    }, "*");
  }

  // A few beeps made by Web Audio: no sound file to fetch. Browsers may hold audio back
  // until someone interacts with the page (or the host delegates autoplay to the iframe);
  // then data-alarm says "blocked" and the first tap plays it.
  function alarm() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!config.alarm || !Context) return;
    var audio = new Context();
    var played = false;
    var play = function () {
      if (played || audio.state !== "running") return;
      played = true;
      var start = audio.currentTime + 0.05;
      for (var i = 0; i < 6; i++) {
        var at = start + i * 0.4 + (i % 2 ? -0.2 : 0);
        var tone = audio.createOscillator();
        var gain = audio.createGain();
        tone.frequency.value = 880;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
        tone.connect(gain).connect(audio.destination);
        tone.start(at);
        tone.stop(at + 0.16);
      }
      document.body.dataset.alarm = "playing";
      setTimeout(function () { audio.close(); }, 3500);
    };
    if (audio.state === "running") return play();
    document.body.dataset.alarm = "blocked";
    audio.resume().then(play);
    document.addEventListener("pointerdown", function () { audio.resume().then(play); },
                              { once: true });
  }

  function set(name, text) {
    if (shown[name] === text) return;
    shown[name] = text;
    var el = parts[name];
    if (!el) return;
    el.textContent = text; // untrusted titles stay text
    el.hidden = text === "";
  }

  // Size the time for its number of characters, then shrink it if this font still overflows.
  function fit() {
    var time = parts.time;
    time.style.setProperty("--chars", String(time.textContent.length));
    time.style.setProperty("--fit", "1");
    if (time.scrollWidth > time.clientWidth) {
      time.style.setProperty("--fit", (time.clientWidth / time.scrollWidth * 0.98).toFixed(3));
    }
  }

  function statusText(view) {
    // The page came with the timer's state: only a lost connection is worth a word.
    if (status === "reconnecting" || status === "deleted") return T["widget." + status];
    if (view.state === "completed" || (view.remaining === 0 && view.state === "running")) {
      return T["widget.completed"];
    }
    return view.state === "paused" || view.state === "idle" ? T["widget." + view.state] : "";
  }

  // The event's date in its own timezone, worded for the language (formatted once per
  // target, not every frame).
  var dated = { key: null, text: "" };
  function targetDate() {
    if (timer.type !== "event" || !config.show_date) return "";
    var target = timer.target_ms || Date.parse(timer.target_date);
    var zone = timer.timezone || "UTC";
    if (dated.key !== target + zone) {
      var options = { dateStyle: "full", timeStyle: "short", timeZone: zone };
      var format;
      try {
        format = new Intl.DateTimeFormat(lang, options);
      } catch (unknownZone) {
        options.timeZone = "UTC";
        format = new Intl.DateTimeFormat(lang, options);
      }
      dated = { key: target + zone, text: format.format(target) };
    }
    return dated.text;
  }

  function render(view) {
    var clock = C.clock(C.seconds(view.shown), lang);
    set("title", config.show_title ? (config.fixed_title !== null ? config.fixed_title
                                                                : timer.title || "") : "");
    set("date", targetDate());
    set("days", clock.days ? C.daysLabel(clock.days, lang) : "");
    var resized = shown.time === undefined || shown.time.length !== clock.text.length;
    set("time", clock.text);
    if (resized) fit();
    set("round", view.round ? C.fill(T["widget.round"], { round: view.round,
                                                          rounds: timer.rounds }, lang) +
        (view.phase ? " · " + T["widget." + view.phase] : "") : "");
    set("status", statusText(view));
    var total = timer.type === "interval" ? (view.phase === "rest" ? timer.rest : timer.work)
      * 1000 : timer.total_ms;
    var share = total > 0 ? Math.min(1, view.shown / total) : 0;
    if (parts.fill) parts.fill.style.transform = "scaleX(" + share.toFixed(4) + ")";
    root.dataset.state = view.state;
    root.dataset.phase = view.phase || "";
  }

  // Standalone timers keep their own events: round ends and the completion.
  function follow(view) {
    if (timer.type === "interval" && lastRound !== null && view.round > lastRound) {
      tell("interval.round_end", view);
    }
    lastRound = view.round;
    if (!finished && view.remaining === 0) {
      finished = true;
      timer = Object.assign({}, timer, { state: "completed", remaining_ms: 0 });
      view.state = "completed";
      if (timer.type === "interval") {
        tell("interval.round_end", view); // the last round ends too, as on the server
        tell("interval.completed", view);
      }
      tell("timer.completed", view);
      alarm();
    }
  }

  function frame() {
    var at = standalone ? C.now() : connection.serverNow();
    var view = C.view(timer, at);
    if (standalone) follow(view);
    render(view);
    requestAnimationFrame(frame);
  }

  function startStandalone() {
    var total = timer.type === "interval" ? timer.rounds * (timer.work + timer.rest) * 1000
      : timer.type === "event" ? Math.max(0, timer.target_ms - Date.now())
        : timer.duration * 1000;
    // An event already past is simply over: nothing started, nothing to ring for.
    var over = total === 0;
    timer = Object.assign({}, timer, { state: over ? "completed" : "running",
                                       server_time: C.now(), remaining_ms: total,
                                       elapsed_ms: 0, total_ms: total, adjustment: 0 });
    finished = over;
    if (!over) tell("timer.started", C.view(timer, C.now()));
  }

  function onMessage(message) {
    if (message.type === "deleted") {
      timer = Object.assign({}, timer, { state: "idle" });
      status = "deleted";
      tell("timer.deleted", C.view(timer, message.server_time));
      return;
    }
    if (!message.timer || message.v < version) return;
    version = message.v;
    timer = message.timer;
    if (message.type !== "state") return;
    var view = C.view(timer, message.server_time);
    (message.events || []).forEach(function (name) {
      tell(name, view);
      if (name === "timer.completed") alarm();
    });
  }

  window.addEventListener("resize", fit);
  if (standalone) {
    startStandalone();
  } else {
    connection = C.connect({
      path: "/ws/timers/" + encodeURIComponent(config.timer_id), auth: null,
      guess: timer.server_time - C.now(), onMessage: onMessage,
      onStatus: function (next) {
        status = next === "not_found" ? "deleted" : next;
        root.dataset.connection = status;
      }
    });
  }
  frame();
})();
