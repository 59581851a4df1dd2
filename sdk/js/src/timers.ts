// The timers resource: one method per operation of /api/v1/timers.
import type { Http } from "./http.js";
import { follow, type LiveOptions, type LiveUpdate } from "./live.js";
import type {
  Delivery, TargetState, Timer, TimerCreateParams, TimerUpdateParams,
} from "./models.js";

const path = (id: string) => `/timers/${encodeURIComponent(id)}`;

/** `expected_version` when given: the change is made only at that version (else 409). */
const expecting = (version?: number) => (version === undefined ? {} : { expected_version: version });

export class Timers {
  constructor(private readonly http: Http) {}

  /** POST /timers: a countdown (`duration`), an event (`target_date`) or an interval. */
  create(params: TimerCreateParams): Promise<Timer> {
    return this.http.request("POST", "/timers", { body: params });
  }

  /** GET /timers/{id}, with its live remaining time. */
  get(id: string): Promise<Timer> {
    return this.http.request("GET", path(id));
  }

  /** Every timer of the account, oldest first, page by page (`limit`: page size, 1–100). */
  list(params: { limit?: number } = {}): AsyncGenerator<Timer, void, undefined> {
    return this.http.paginate("/timers", params);
  }

  /** PATCH /timers/{id}: title, webhook settings, the live room's fields; timing while idle. */
  update(id: string, fields: TimerUpdateParams, expectedVersion?: number): Promise<Timer> {
    return this.http.request("PATCH", path(id), { body: { ...fields, ...expecting(expectedVersion) } });
  }

  /** PATCH /timers/{id}/state by target state; setting the state it has changes nothing. */
  setState(id: string, state: TargetState, expectedVersion?: number): Promise<Timer> {
    return this.http.request("PATCH", `${path(id)}/state`,
                             { body: { state, ...expecting(expectedVersion) } });
  }

  private action(id: string, action: string, expectedVersion?: number): Promise<Timer> {
    return this.http.request("PATCH", `${path(id)}/state`,
                             { body: { action, ...expecting(expectedVersion) } });
  }

  start(id: string, expectedVersion?: number): Promise<Timer> {
    return this.action(id, "start", expectedVersion);
  }

  pause(id: string, expectedVersion?: number): Promise<Timer> {
    return this.action(id, "pause", expectedVersion);
  }

  resume(id: string, expectedVersion?: number): Promise<Timer> {
    return this.action(id, "resume", expectedVersion);
  }

  /** Back to idle with the initial duration. */
  reset(id: string, expectedVersion?: number): Promise<Timer> {
    return this.action(id, "reset", expectedVersion);
  }

  /** Completed now (`timer.stopped`): from running, paused or overtime. */
  stop(id: string, expectedVersion?: number): Promise<Timer> {
    return this.action(id, "stop", expectedVersion);
  }

  /** POST /timers/{id}/adjust: add (positive) or remove (negative) seconds. */
  adjust(id: string, seconds: number, expectedVersion?: number): Promise<Timer> {
    return this.http.request("POST", `${path(id)}/adjust`,
                             { body: { seconds, ...expecting(expectedVersion) } });
  }

  /** PUT /timers/{id}/message: 1–280 characters on every display of the timer. */
  setMessage(id: string, text: string, flash = false, expectedVersion?: number): Promise<Timer> {
    return this.http.request("PUT", `${path(id)}/message`,
                             { body: { text, flash, ...expecting(expectedVersion) } });
  }

  /** DELETE /timers/{id}/message: take the message down. */
  clearMessage(id: string): Promise<Timer> {
    return this.http.request("DELETE", `${path(id)}/message`);
  }

  /** A new control token (`urls.control`); presenters holding the old one are disconnected. */
  rotateControlToken(id: string): Promise<Timer> {
    return this.http.request("POST", `${path(id)}/control-token/rotate`);
  }

  /** POST /timers/{id}/webhooks/test: a `webhook.test` delivery to its `webhook_url`. */
  testWebhook(id: string): Promise<Delivery> {
    return this.http.request("POST", `${path(id)}/webhooks/test`);
  }

  /** DELETE /timers/{id}; its events stay in the log. */
  async delete(id: string, expectedVersion?: number): Promise<void> {
    await this.http.request("DELETE", path(id), { query: { expected_version: expectedVersion } });
  }

  /**
   * Follow the timer live: `onState` gets the snapshot, then every state change and tick, with
   * `remaining_ms` corrected by the measured clock offset; the connection comes back by itself.
   * Returns the function that stops it.
   */
  live(id: string, onState: (update: LiveUpdate) => void, options: LiveOptions = {}): () => void {
    const url = new URL(`${this.http.baseUrl}/ws/timers/${encodeURIComponent(id)}`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (options.countAsViewer === false) url.searchParams.set("count", "0");
    return follow(url.toString(), onState,
                  { ...options, WebSocket: options.WebSocket ?? this.http.WebSocket });
  }
}
