// What the server sends and takes, with the server's own JSON field names (snake_case), so a
// model reads like the API reference and like GET /api/v1/openapi.json. Fields a newer server
// adds are kept on the objects as they came; they are simply not named here yet.

export type TimerType = "countdown" | "event" | "interval";
export type TimerState = "idle" | "running" | "paused" | "completed" | "overtime";
export type Level = "normal" | "warning" | "danger" | "overtime";
export type Phase = "work" | "rest";

export type EventName =
  | "timer.started" | "timer.paused" | "timer.resumed" | "timer.completed" | "timer.reset"
  | "timer.adjusted" | "interval.round_end" | "interval.completed" | "timer.deleted"
  | "timer.warning" | "timer.message" | "timer.stopped" | "webhook.test"
  | "rundown.advanced" | "rundown.completed";

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
  /** Event: the IANA zone it is shown in. */
  timezone?: string;
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
  webhook_url: string | null;
  webhook_events: EventName[] | null;
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
  webhook_events?: EventName[] | null;
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

/** One entry of the event log, and the body of a webhook delivery (less its signature). */
export interface TimerEvent {
  id: string;
  event: EventName;
  /** ISO 8601: when it happened (a completion: its deadline). */
  timestamp: string;
  timer_id: string;
  title: string;
  type: TimerType;
  /** The timer's version this event made. */
  version?: number;
  data: EventData;
}

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

/** A webhook delivery's body as it arrived, signature included. */
export interface WebhookEvent extends TimerEvent {
  /** sha256=<hex HMAC of the body serialised without this field>. */
  signature: string;
}

export type DeliveryStatus = "pending" | "succeeded" | "failed" | "cancelled";

/** A webhook delivery as the timer's log lists it. */
export interface Delivery {
  /** dlv_…: the webhook-id header, the same on every attempt. */
  id: string;
  timer_id: string;
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
  payload: TimerEvent;
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

/** A show's timers in order (DESIGN §11). */
export interface Rundown {
  /** rnd_… */
  id: string;
  title: string;
  /** The timers' ids, in order. */
  timers: string[];
  /** The current timer's id, or null before the first advance. */
  current: string | null;
  auto_advance: boolean;
  version: number;
  webhook_url?: string | null;
  urls: RundownUrls;
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
