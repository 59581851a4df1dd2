// One request to the API: the key, JSON both ways, errors as classes, and retries of 429 and
// 503 that wait as long as the server's Retry-After says (bounded).
import { APIConnectionError, errorFor, retryAfterSeconds, type ErrorBody } from "./errors.js";
import type { Page } from "./models.js";

/** A WebSocket class with the standard constructor (the global one, or the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocket;

export interface CastimerOptions {
  /** ck_live_…: from `castimer serve`'s first start, `castimer keys create` or the dashboard. */
  apiKey: string;
  /** The server's address, like `https://timers.example.com` (default http://127.0.0.1:8000). */
  baseUrl?: string;
  /** Retries of a 429 or a 503 after the first attempt (default 2; 0 turns retries off). */
  maxRetries?: number;
  /** The longest wait before a retry; a Retry-After beyond it fails at once (default 60 s). */
  maxRetryDelayMs?: number;
  /** How long one attempt may take (default 30 s). */
  timeoutMs?: number;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** The WebSocket class for `timers.live` (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: object;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/** Seconds to wait before retry `n` (0-based) when the server gave no Retry-After: jittered. */
function backoffMs(n: number): number {
  return Math.min(8000, 500 * 2 ** n) * (0.5 + Math.random());
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Http {
  readonly apiKey: string;
  /** The server's root, without a trailing slash. */
  readonly baseUrl: string;
  readonly maxRetries: number;
  readonly maxRetryDelayMs: number;
  readonly timeoutMs: number;
  readonly WebSocket: WebSocketConstructor | undefined;
  private readonly fetch: typeof fetch;

  constructor(options: CastimerOptions) {
    if (!options?.apiKey) throw new TypeError("Castimer needs an apiKey (ck_live_…)");
    this.apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? "http://127.0.0.1:8000").replace(/\/+$/, "")
      .replace(/\/api\/v1$/, "");
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.WebSocket = options.WebSocket;
    const found = options.fetch ?? globalThis.fetch;
    if (typeof found !== "function") throw new TypeError("no fetch here: pass options.fetch");
    this.fetch = found.bind(globalThis);
  }

  url(path: string, query?: Query): string {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  /** The answer's JSON (undefined for 204), or the error that fits. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.apiKey}`,
                                              Accept: "application/json" };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    // A 429 is answered before the server does anything, so any request may be sent again; a
    // 503 may come after a change was made, so only requests that are safe to repeat are.
    const repeatable = IDEMPOTENT.has(method) ||
      (options.body !== undefined && "expected_version" in options.body);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(url, { method, headers, body,
                                           signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (cause) {
        throw new APIConnectionError(`${method} ${url} got no answer: ${String(cause)}`,
                                { status: null, type: "connection_error", cause });
      }
      if (response.ok) {
        if (response.status === 204) return undefined as T;
        return (await response.json()) as T;
      }
      const error = errorFor(response.status, await errorBody(response), response.headers);
      const retried = response.status === 429 || (response.status === 503 && repeatable);
      if (!retried || attempt >= this.maxRetries) throw error;
      const after = retryAfterSeconds(response.headers);
      const delay = after === null ? backoffMs(attempt) : after * 1000 + Math.random() * 100;
      if (delay > this.maxRetryDelayMs) throw error;
      await sleep(delay);
    }
  }

  /** Every item of a paged list, fetching the next page when the last one is used up. */
  async *paginate<T>(path: string, query: Query = {}): AsyncGenerator<T, void, undefined> {
    let cursor: string | null = null;
    do {
      const page: Page<T> = await this.request<Page<T>>("GET", path,
                                                        { query: { ...query, cursor } });
      yield* page.data;
      cursor = page.has_more ? page.next_cursor : null;
    } while (cursor);
  }
}

async function errorBody(response: Response): Promise<ErrorBody | null> {
  try {
    const parsed: unknown = await response.json();
    const error = (parsed as { error?: unknown } | null)?.error;
    return typeof error === "object" && error !== null ? (error as ErrorBody) : null;
  } catch {
    return null;
  }
}
