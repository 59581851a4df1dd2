// What the server sends and takes, with the server's own JSON field names (snake_case), so a
// model reads like the API reference and like GET /api/v1/openapi.json. Fields a newer server
// adds are kept on the objects as they came; they are simply not named here yet.

export type TimerType = "countdown" | "event" | "interval";
export type TimerState = "idle" | "running" | "paused" | "completed" | "overtime";
export type Level = "normal" | "warning" | "danger" | "overtime";
export type Phase = "work" | "rest";

export type TimerEventName =
  | "timer.started" | "timer.paused" | "timer.resumed" | "timer.completed" | "timer.reset"
  | "timer.adjusted" | "interval.round_end" | "interval.completed" | "timer.deleted"
  | "timer.warning" | "timer.message" | "timer.stopped" | "webhook.test";
export type RundownEventName = "rundown.advanced" | "rundown.completed";
export type EventName = TimerEventName | RundownEventName;

/** The message shown to the people on stage. */
export interface StageMessage {
  text: string;
  flash: boolean;
  /** ISO 8601: when it was put up. */
  at: string;
}

/** A timer as anyone holding its id sees it (viewer sockets, widgets). */
export interface PublicTimer {
  id: string;
  type: TimerType;
  title: string;
  state: TimerState;
  /** Countdown: its length in seconds. */
  duration?: number;
  /** Event: ISO 8601 target with an offset or Z. */
  target_date?: string;
  /** The IANA zone its times are shown in (an event's target, a scheduled start); null: not
   * set (an event's is UTC then). */
  timezone?: string | null;
  /** Interval: seconds of work, seconds of rest, rounds. */
  work?: number;
  rest?: number;
  rounds?: number;
  /** Seconds added (or removed, negative) since the last reset (countdown, interval). */
  adjustment?: number;
  /** ISO 8601: when an idle countdown or interval starts by itself, or null. */
  start_at?: string | null;
  /** At `server_time`; negative in overtime. */
  remaining_ms: number;
  elapsed_ms: number;
  total_ms: number;
  round: number | null;
  phase: Phase | null;
  version: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  paused_at: string | null;
  completed_at: string | null;
  /** The server's clock (epoch ms) the live fields were computed at. */
  server_time: number;
  level: Level;
  warn_at: number | null;
  danger_at: number | null;
  message: StageMessage | null;
  blackout: boolean;
  /** Countdown and event timers. */
  overtime?: boolean;
  overtime_ms?: number;
}

export interface TimerUrls {
  /** The live widget. */
  widget: string;
  /** An iframe snippet of the widget. */
  embed: string;
  /** The full-window stage display. */
  stage: string;
  /** The presenter page, with the control token in its fragment. */
  control: string;
}

/** A timer as its account sees it: the public fields, its webhook settings and URLs. */
export interface Timer extends PublicTimer {
  /** Open viewer sockets across every server process (within about 3 s). */
  viewers: number;
  /** Absent when the request was made with the timer's control token. */
  webhook_url?: string | null;
  webhook_events?: TimerEventName[] | null;
  urls: TimerUrls;
}

/** The fields `timers.create` takes (POST /timers). */
export interface TimerCreateParams {
  type?: TimerType;
  title?: string | null;
  duration?: number;
  target_date?: string;
  timezone?: string;
  work?: number;
  rest?: number;
  rounds?: number;
  webhook_url?: string | null;
  webhook_events?: TimerEventName[] | null;
  overtime?: boolean;
  warn_at?: number | null;
  danger_at?: number | null;
  blackout?: boolean;
  start_at?: string | null;
}

/** The fields `timers.update` takes (PATCH /timers/{id}): everything but the type. */
export type TimerUpdateParams = Omit<TimerCreateParams, "type">;

/** What PATCH /timers/{id}/state sets. */
export type TargetState = "running" | "paused" | "idle" | "completed";

/** One entry of the event log of a timer, and the body of its webhook deliveries. */
export interface TimerEvent {
  id: string;
  event: TimerEventName;
  /** ISO 8601: when it happened (a completion: its deadline). */
  timestamp: string;
  timer_id: string;
  title: string;
  type: TimerType;
  /** The timer's version this event made. */
  version?: number;
  data: EventData;
}

/** An event of a rundown: it advanced (`data.from`, `data.to`) or completed. */
export interface RundownEvent {
  id: string;
  event: RundownEventName;
  timestamp: string;
  rundown_id: string;
  title: string;
  version?: number;
  data: EventData;
}

/** What the event log lists and webhooks deliver: `event` tells which of the two it is. */
export type CastimerEvent = TimerEvent | RundownEvent;

/** What an event carries besides its name; which fields depends on the event. */
export interface EventData {
  state?: TimerState;
  duration?: number;
  remaining?: number;
  actual_duration?: number;
  started_at?: string | null;
  completed_at?: string | null;
  paused_at?: string | null;
  round?: number | null;
  rounds?: number;
  phase?: Phase | null;
  late_ms?: number;
  scheduled?: boolean;
  level?: "warning" | "danger";
  message?: StageMessage | null;
  overtime?: number;
  test?: boolean;
  from?: string | null;
  to?: string | null;
  [field: string]: unknown;
}

/** A webhook delivery's body as it arrived, with its `signature` field (sha256=<hex HMAC of
 * the body serialised without that field>). */
export type WebhookEvent = CastimerEvent & { signature: string };

export type DeliveryStatus = "pending" | "succeeded" | "failed" | "cancelled";

/** A webhook delivery as the timer's log lists it. */
export interface Delivery {
  /** dlv_…: the webhook-id header, the same on every attempt. */
  id: string;
  /** A timer's delivery has timer_id; a rundown's, rundown_id. */
  timer_id?: string;
  rundown_id?: string;
  event_id: string;
  event: EventName;
  url: string;
  status: DeliveryStatus;
  attempt_count: number;
  created_at: string;
  next_attempt_at: string | null;
}

export interface Attempt {
  number: number;
  at: string;
  duration_ms: number;
  /** null: no HTTP answer (a timeout, a refused connection). */
  status_code: number | null;
  /** The first 2 KiB of the answer. */
  response: string;
  error: string | null;
}

/** A delivery with its payload and every attempt (GET /deliveries/{id}). */
export interface DeliveryDetail extends Delivery {
  /** The body as sent, without its signature. */
  payload: CastimerEvent;
  /** Oldest first. */
  attempts: Attempt[];
}

export interface WebhookSecret {
  /** whsec_…: signs every delivery. */
  webhook_secret: string;
  /** After a rotation, when the old secret stops signing beside the new one. */
  previous_webhook_secret_expires_at: string | null;
}

export type Plan = "free" | "pro" | "enterprise" | "unlimited";

export interface Account extends WebhookSecret {
  id: string;
  name: string;
  plan: Plan;
  created_at: string;
  limits: { requests_per_minute: number; requests_per_day: number | null };
  usage: { requests_today: number };
}

export interface ApiKey {
  /** key_…: names the key to revoke. */
  id: string;
  /** The key's first characters. */
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  /** The key that made this request. */
  current: boolean;
}

/** A key just made: the only answer that ever holds the whole key. */
export interface CreatedApiKey extends ApiKey {
  /** ck_live_…: stored by the server only as a hash. */
  key: string;
}

export interface RundownUrls {
  widget: string;
  stage: string;
  control: string;
}

/** One timer of a show, planned against actual (GET /rundowns/{id}; not in lists). */
export interface RundownItem {
  id: string;
  /** The timer was deleted meanwhile: nothing else is known of it. */
  missing?: true;
  title?: string;
  type?: TimerType;
  state?: TimerState;
  /** Seconds it is set to run. */
  planned?: number | null;
  /** Seconds it ran, once completed. */
  actual?: number | null;
  /** actual - planned. */
  over_under?: number | null;
  started_at?: string | null;
  completed_at?: string | null;
  remaining_ms?: number;
}

/** A show's timers in order (DESIGN §11). */
export interface Rundown {
  /** rnd_… */
  id: string;
  title: string;
  /** The timers' ids, in order. */
  timers: string[];
  /** The timer the show is on (a new show: its first). */
  current: string | null;
  /** The one after it. */
  next: string | null;
  auto_advance: boolean;
  version: number;
  /** When the last timer, being current, completed (rundown.completed). */
  completed_at: string | null;
  /** Absent when the request was made with the rundown's control token. */
  webhook_url?: string | null;
  created_at: string;
  updated_at: string;
  /** `control` carries the rundown's control token after `#token=`. */
  urls: RundownUrls;
  /** Each timer, planned against actual: in the answers about one rundown, not in lists. */
  items?: RundownItem[];
}

export interface RundownCreateParams {
  title?: string;
  /** 1–200 distinct timers of the account. */
  timers: string[];
  auto_advance?: boolean;
  webhook_url?: string | null;
}

export type RundownUpdateParams = Partial<RundownCreateParams>;

/** Where `rundowns.advance` goes: the next or previous timer, or a timer of the rundown. */
export type AdvanceTarget = "next" | "previous" | (string & {});

/** One page of a list, as the API answers it. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}
