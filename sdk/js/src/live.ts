// A live timer over the viewer socket (/ws/timers/{id}): the snapshot, every state change and
// every tick, each with its remaining time moved on to the moment it is handed over, on the
// server's clock as measured by ping/pong (NTP-style, lowest round trip wins). A lost
// connection is opened again with jittered backoff and resumes from a fresh snapshot.
import type { WebSocketConstructor } from "./http.js";
import type { EventName, PublicTimer } from "./models.js";

export type LiveStatus = "connecting" | "live" | "reconnecting" | "closed" | "deleted" |
  "not_found";

export interface LiveUpdate {
  /** `snapshot` on every (re)connection, `state` on every change, `tick` at every whole second
   * of remaining time while it runs (and past zero in overtime), `deleted` at the end. */
  type: "snapshot" | "state" | "tick" | "deleted";
  /** A state change's last event, else null. */
  event: EventName | null;
  /** Every event of a state change (one commit may make several), else empty. */
  events: EventName[];
  /** The timer as of this update's hand-over: `remaining_ms`, `elapsed_ms` (and `overtime_ms`)
   * moved on by the time since the server computed them, and `server_time` the server's clock
   * at hand-over, by the measured offset. Round and phase are as the server sent them. */
  timer: PublicTimer;
  version: number;
  /** The server's clock minus this machine's, in ms, as measured. */
  clockOffsetMs: number;
  /** How far that offset may be off (half the best round trip); null before the first pong. */
  syncErrorMs: number | null;
  /** The remaining time at the moment of the call, for drawing between ticks. */
  remainingMs(): number;
}

export interface LiveOptions {
  /** The connection's state: connecting, live, reconnecting; closed (by stop), deleted or
   * not_found (final: no more updates). */
  onStatus?: (status: LiveStatus) => void;
  /** How many viewers the timer has, when that changes. */
  onPresence?: (viewers: number) => void;
  /** What went wrong without ending the stream (a callback that threw, a missing `ws`). */
  onError?: (error: unknown) => void;
  /** Count this socket among the timer's `viewers` (default true). */
  countAsViewer?: boolean;
  /** The first reconnection delay and the longest (defaults 500 ms and 30 s), jittered ±50 %. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** The WebSocket class (default: the client's, else the global one, else `ws`). */
  WebSocket?: WebSocketConstructor;
}

/** Close codes after which reconnecting cannot help (docs/websockets.md). */
const FINAL: Record<number, LiveStatus> = { 4404: "not_found", 4410: "deleted" };
const QUICK_PINGS = [0, 200, 400, 600];
const PING_EVERY_MS = 15_000;
const SAMPLES = 8;

interface ServerMessage {
  type: string;
  v?: number;
  server_time?: number;
  timer?: PublicTimer;
  event?: EventName | null;
  events?: EventName[];
  t?: number;
  viewers?: number;
}

/** The global WebSocket (browsers, Deno, workers, Node ≥ 22), else the `ws` package (Node 20). */
async function socketClass(given: WebSocketConstructor | undefined): Promise<WebSocketConstructor> {
  if (given) return given;
  if (typeof globalThis.WebSocket === "function") return globalThis.WebSocket;
  // A specifier in a variable: bundlers building for browsers leave this fallback alone.
  const name = "ws";
  try {
    const found = await import(name);
    return (found.WebSocket ?? found.default) as WebSocketConstructor;
  } catch (cause) {
    throw new Error("no WebSocket here: install the optional dependency `ws` " +
                    "(npm install ws) or pass options.WebSocket", { cause });
  }
}

function text(data: unknown): string {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    return new TextDecoder().decode(data as ArrayBuffer | ArrayBufferView);
  }
  return String(data);
}

/** `timer` moved on by `deltaMs` of the server's clock (only while it counts). */
export function movedOn(timer: PublicTimer, deltaMs: number): PublicTimer {
  const server_time = timer.server_time + deltaMs;
  if (timer.state === "running") {
    return { ...timer, server_time, elapsed_ms: timer.elapsed_ms + deltaMs,
             remaining_ms: Math.max(0, timer.remaining_ms - deltaMs) };
  }
  if (timer.state === "overtime") {
    return { ...timer, server_time, elapsed_ms: timer.elapsed_ms + deltaMs,
             remaining_ms: timer.remaining_ms - deltaMs,
             overtime_ms: (timer.overtime_ms ?? 0) + deltaMs };
  }
  return { ...timer, server_time };
}

export function follow(wsUrl: string, onState: (update: LiveUpdate) => void,
                       options: LiveOptions = {}): () => void {
  const minMs = options.reconnectMinMs ?? 500;
  const maxMs = options.reconnectMaxMs ?? 30_000;
  let socket: WebSocket | null = null;
  let stopped = false;
  let attempt = 0;
  let version = 0;
  let last: PublicTimer | null = null;
  let samples: { rtt: number; offset: number }[] = [];
  let offset = 0;
  let syncError: number | null = null;
  let timers: ReturnType<typeof setTimeout>[] = [];
  let pinger: ReturnType<typeof setInterval> | undefined;

  const report = (error: unknown) => {
    try {
      options.onError?.(error);
    } catch {
      // The error callback itself failed: nothing is left to tell.
    }
  };
  const status = (next: LiveStatus) => {
    try {
      options.onStatus?.(next);
    } catch (error) {
      report(error);
    }
  };

  const send = (message: object) => {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(message));
  };
  const ping = () => send({ type: "ping", t: Date.now() });

  function learn(pong: ServerMessage) {
    const rtt = Date.now() - (pong.t ?? NaN);
    if (!(rtt >= 0) || typeof pong.server_time !== "number") return;
    samples.push({ rtt, offset: pong.server_time - ((pong.t as number) + rtt / 2) });
    if (samples.length > SAMPLES) samples.shift();
    const best = samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    offset = best.offset;
    syncError = best.rtt / 2;
  }

  function hand(type: LiveUpdate["type"], timer: PublicTimer, message: ServerMessage) {
    const sent = movedOn(timer, Date.now() + offset - timer.server_time);
    const update: LiveUpdate = {
      type, event: message.event ?? null, events: message.events ?? [], timer: sent, version,
      clockOffsetMs: offset, syncErrorMs: syncError,
      remainingMs: () => movedOn(sent, Date.now() + offset - sent.server_time).remaining_ms,
    };
    try {
      onState(update);
    } catch (error) {
      report(error);
    }
  }

  function receive(message: ServerMessage) {
    if (message.type === "pong") return learn(message);
    if (message.type === "presence") {
      if (typeof message.viewers !== "number") return;
      try {
        options.onPresence?.(message.viewers);
      } catch (error) {
        report(error);
      }
      return;
    }
    if (message.type === "deleted") {
      if (last) hand("deleted", { ...last, server_time: message.server_time ?? last.server_time },
                     message);
      return;
    }
    if (message.type !== "snapshot" && message.type !== "state" && message.type !== "tick") return;
    if (!message.timer || typeof message.v !== "number") return;
    if (message.type === "snapshot") {
      attempt = 0;
      // Until a pong arrives, take the snapshot to have come in no time.
      if (samples.length === 0) offset = message.timer.server_time - Date.now();
      status("live");
    } else if (message.v < version) {
      return; // older than what was handed over already
    }
    version = message.v;
    last = message.timer;
    hand(message.type, message.timer, message);
  }

  function clear() {
    clearInterval(pinger);
    for (const timer of timers) clearTimeout(timer);
    timers = [];
  }

  async function open() {
    if (stopped) return;
    if (!attempt) status("connecting");
    samples = [];
    syncError = null;
    let Socket: WebSocketConstructor;
    try {
      Socket = await socketClass(options.WebSocket);
    } catch (error) {
      report(error);
      stopped = true;
      status("closed");
      return;
    }
    if (stopped) return;
    let opened: WebSocket;
    try {
      opened = new Socket(wsUrl);
    } catch (error) {
      report(error); // a URL no WebSocket takes: trying again cannot help
      stopped = true;
      status("closed");
      return;
    }
    socket = opened;
    opened.onopen = () => {
      for (const delay of QUICK_PINGS) timers.push(setTimeout(ping, delay));
      pinger = setInterval(ping, PING_EVERY_MS);
    };
    opened.onmessage = (event: MessageEvent) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(text(event.data)) as ServerMessage;
      } catch (error) {
        return report(error);
      }
      receive(message);
    };
    opened.onerror = () => {
      // The close that follows decides what happens next.
    };
    opened.onclose = (event: CloseEvent) => {
      clear();
      if (socket === opened) socket = null;
      if (stopped) return;
      const final = FINAL[event.code];
      if (final) {
        stopped = true;
        return status(final);
      }
      // Jittered exponential backoff: a restarted server is not met by every viewer at once.
      const delay = Math.min(maxMs, minMs * 2 ** attempt) * (0.5 + Math.random());
      attempt += 1;
      status("reconnecting");
      timers.push(setTimeout(open, delay));
    };
  }

  open();
  return () => {
    if (stopped) return;
    stopped = true;
    clear();
    socket?.close(1000);
    socket = null;
    status("closed");
  };
}
