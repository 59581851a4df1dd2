// For pages that embed Castimer widgets: the widget tells its host page of every event of its
// timer by postMessage (server/widget/widget.js `tell`), to any origin, since what it says is
// public to anyone holding the widget's URL. This keeps only the widgets' messages, and when
// given, only those from the widget's origin or one frame.
import type { EventName, Level, Phase, StageMessage, TimerState } from "./models.js";

/** What a widget posts to its host page. */
export interface WidgetEvent {
  source: "castimer";
  event: EventName;
  /** The live timer's id; null for a standalone widget. */
  timer_id: string | null;
  state: TimerState;
  remaining_ms: number;
  round: number | null;
  phase: Phase | null;
  level: Level;
  message: StageMessage | null;
  /** The timer's version (0 for a standalone widget). */
  v: number;
}

export interface WidgetEventOptions {
  /** Only messages from this origin (the Castimer server's, like `https://timers.example.com`;
   * a URL is reduced to its origin), or from any of these. */
  origin?: string | string[];
  /** Only messages from this iframe (or window), when several widgets share a page. */
  frame?: { contentWindow: unknown } | object;
  /** Where messages arrive (default: the page's window). */
  target?: EventTarget;
}

function originOf(given: string): string {
  try {
    return new URL(given).origin;
  } catch {
    return given;
  }
}

function isWidgetEvent(data: unknown): data is WidgetEvent {
  const seen = data as Partial<WidgetEvent> | null;
  return typeof seen === "object" && seen !== null && seen.source === "castimer" &&
    typeof seen.event === "string";
}

/**
 * Call `callback` with every event an embedded widget posts; returns a function that stops
 * listening. Messages that are not a Castimer widget's (`source` other than "castimer"), and
 * when `origin` or `frame` is given, from elsewhere, are ignored.
 */
export function onWidgetEvent(callback: (event: WidgetEvent, message: MessageEvent) => void,
                              options: WidgetEventOptions = {}): () => void {
  const target = options.target ?? (globalThis as { window?: EventTarget }).window;
  if (!target) throw new TypeError("onWidgetEvent needs a window, or options.target");
  const origins = options.origin === undefined ? null
    : (Array.isArray(options.origin) ? options.origin : [options.origin]).map(originOf);
  const frame = options.frame;
  const from = frame && "contentWindow" in frame ? () => frame.contentWindow : () => frame;
  const listener = (raw: Event) => {
    const message = raw as MessageEvent;
    if (!isWidgetEvent(message.data)) return;
    if (origins !== null && !origins.includes(message.origin)) return;
    if (frame !== undefined && message.source !== from()) return;
    callback(message.data, message);
  };
  target.addEventListener("message", listener);
  return () => target.removeEventListener("message", listener);
}
