// What the widget and the presenter page share: one clock, the live connection to a timer
// (clock offset from ping/pong, reconnects) and the arithmetic that turns the authoritative
// state into what to show at any instant.
(function () {
  "use strict";

  // Monotonic, in epoch-like ms: wall-clock jumps on this machine do not move a running timer.
  var origin = Date.now() - performance.now();
  function now() {
    return origin + performance.now();
  }

  // Close codes after which reconnecting cannot help (docs/websockets.md).
  var FINAL = { 4401: "unauthorized", 4403: "forbidden", 4404: "not_found", 4410: "deleted" };
  var SAMPLES = 8; // offset samples kept: a window, so a changed clock is learnt again
  // Clocks drift by milliseconds an hour; at 10,000 viewers this is ~330 pings a second.
  var PING_EVERY = 30000;

  // The live stream of one timer. `options`: path (/ws/…), auth (first message or null),
  // guess (an offset to use until the socket says better, or null), onMessage(msg) for every
  // server message but pongs, onStatus(status, detail).
  function connect(options) {
    var ws = null;
    var attempt = 0;
    var samples = [];
    // {offset, error}: the server's clock minus ours, and how wrong that can be.
    var estimate = options.guess == null ? null : { offset: options.guess, error: null };
    var pinger = null;
    var stopped = false;

    function send(message) {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify(message));
        return true;
      }
      return false;
    }

    function ping() {
      send({ type: "ping", t: now() });
    }

    // NTP-style: the pong's server_time was read about half a round trip after we sent `t`.
    // The sample with the shortest round trip has the smallest possible error.
    function learn(pong) {
      var arrived = now();
      var rtt = arrived - pong.t;
      if (!(rtt >= 0)) return;
      samples.push({ rtt: rtt, offset: pong.server_time - (pong.t + rtt / 2) });
      if (samples.length > SAMPLES) samples.shift();
      var best = samples[0];
      for (var i = 1; i < samples.length; i++) if (samples[i].rtt < best.rtt) best = samples[i];
      estimate = { offset: best.offset, error: best.rtt / 2 };
    }

    function open() {
      // A new connection may reach another process, and a computer that slept may have
      // paused the monotonic clock: learn the offset afresh, from a fresh anchor.
      samples = [];
      origin = Date.now() - performance.now();
      options.onStatus(attempt ? "reconnecting" : "connecting");
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(scheme + location.host + options.path);
      ws.onopen = function () {
        if (options.auth) send(options.auth);
        // A few quick samples at first, then a steady trickle far below the rate limit.
        [0, 200, 400, 600].forEach(function (delay) { setTimeout(ping, delay); });
        pinger = setInterval(ping, PING_EVERY);
      };
      ws.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.type === "pong") return learn(message);
        if (message.type === "snapshot") {
          attempt = 0;
          // Until a pong arrives, assume the snapshot took no time to get here.
          if (samples.length === 0) estimate = { offset: message.server_time - now(), error: null };
          options.onStatus("live");
        }
        options.onMessage(message);
      };
      ws.onclose = function (event) {
        clearInterval(pinger);
        if (stopped) return;
        if (FINAL[event.code]) return options.onStatus(FINAL[event.code], event.reason);
        // Jittered exponential backoff: a restarted server is not hit by every viewer at once.
        var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random());
        attempt += 1;
        options.onStatus("reconnecting");
        setTimeout(open, delay);
      };
    }

    open();
    return {
      send: send,
      // Our estimate of the server's clock now.
      serverNow: function () { return now() + (estimate ? estimate.offset : 0); },
      // Half the best round trip: the most the offset can be wrong by (null before a pong).
      syncError: function () { return estimate ? estimate.error : null; },
      close: function () { stopped = true; if (ws) ws.close(); }
    };
  }

  // A public timer (as the server sends it, valid at timer.server_time) seen at server time
  // `at`: remaining ms, the interval's round and phase, and the ms left in the phase.
  function view(timer, at) {
    var running = timer.state === "running";
    var passed = running ? Math.max(0, at - timer.server_time) : 0;
    var remaining = Math.max(0, timer.remaining_ms - passed);
    var out = { state: timer.state, remaining: remaining, shown: remaining, round: null,
                phase: null };
    if (timer.type !== "interval") return out;
    var work = timer.work * 1000;
    var cycle = work + timer.rest * 1000;
    var base = timer.rounds * cycle;
    if (timer.state === "completed" || remaining === 0) {
      out.round = timer.rounds;
      return out;
    }
    var ran = Math.min(timer.elapsed_ms + passed, timer.total_ms);
    var position = Math.min(Math.max(0, ran - (timer.adjustment || 0) * 1000), base - 1);
    var inCycle = position % cycle;
    out.round = Math.floor(position / cycle) + 1;
    out.phase = inCycle < work ? "work" : "rest";
    out.shown = Math.min(remaining, (inCycle < work ? work : cycle) - inCycle);
    return out;
  }

  // Whole seconds as people read them: 0.2 s left still shows as 1.
  function seconds(ms) {
    return Math.ceil(ms / 1000);
  }

  // Intl formatters are slow to build and drawn with every frame: one of each per language.
  var formatters = {};
  function formatter(lang, name, options) {
    var key = lang + " " + name;
    if (!formatters[key]) formatters[key] = new Intl.NumberFormat(lang, options);
    return formatters[key];
  }

  // "05:00", "1:05:00"; days apart (the caller words them with Intl).
  function clock(totalSeconds, lang) {
    var two = formatter(lang, "two", { minimumIntegerDigits: 2, useGrouping: false });
    var one = formatter(lang, "one", { useGrouping: false });
    var days = Math.floor(totalSeconds / 86400);
    var rest = totalSeconds - days * 86400;
    var h = Math.floor(rest / 3600);
    var m = Math.floor((rest % 3600) / 60);
    var s = rest % 60;
    var text = (h || days ? (days ? two : one).format(h) + ":" : "") + two.format(m) + ":" +
      two.format(s);
    return { days: days, text: text };
  }

  function daysLabel(days, lang) {
    return formatter(lang, "days", { style: "unit", unit: "day", unitDisplay: "long" })
      .format(days);
  }

  // "{round} of {rounds}" → text, with numbers in the language's own digits.
  function fill(template, values, lang) {
    var number = formatter(lang, "number", {});
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      var value = values[name];
      return typeof value === "number" ? number.format(value) : String(value);
    });
  }

  window.Castimer = { now: now, connect: connect, view: view, seconds: seconds, clock: clock,
                      daysLabel: daysLabel, fill: fill };
})();
