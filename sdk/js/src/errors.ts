// The API's errors as classes: `{"error": {"type", "message", "param"}}` with the HTTP status
// becomes the class that fits, so callers catch what they can handle (`instanceof`).

/** The error JSON the server answers with. */
export interface ErrorBody {
  type: string;
  message: string;
  param: string | null;
  current_version?: number;
  [field: string]: unknown;
}

export interface ErrorDetails {
  /** The HTTP status, or null when no answer came (a refused connection, a timeout). */
  status: number | null;
  /** The server's error type (`not_found`, `version_conflict`…), or `connection_error`. */
  type: string;
  param?: string | null;
  body?: ErrorBody | null;
  headers?: Headers | null;
  cause?: unknown;
}

/** Every error this library raises about a request. */
export class CastimerError extends Error {
  readonly status: number | null;
  readonly type: string;
  /** The field the server named, if any. */
  readonly param: string | null;
  readonly body: ErrorBody | null;
  readonly headers: Headers | null;

  constructor(message: string, details: ErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.type = details.type;
    this.param = details.param ?? null;
    this.body = details.body ?? null;
    this.headers = details.headers ?? null;
  }
}

/** No answer: the connection was refused, broken or timed out (`status` is null). */
export class APIConnectionError extends CastimerError {}

/** 401: a missing, malformed, invalid or revoked API key. */
export class AuthenticationError extends CastimerError {}

/** 404: no such timer, delivery, key or rundown in this account. */
export class NotFoundError extends CastimerError {}

/** 409: `expected_version` did not match, or a delivery is pending already. */
export class ConflictError extends CastimerError {
  /** The version the object is at now, when the server said. */
  readonly currentVersion: number | null;

  constructor(message: string, details: ErrorDetails) {
    super(message, details);
    this.currentVersion = details.body?.current_version ?? null;
  }
}

/** 400, 413, 415 or 422: a malformed, too large or mislabelled request, or a value that is not
 * allowed; `param` names the field. */
export class ValidationError extends CastimerError {}

/** 429: the account's plan allows no more requests now. */
export class RateLimitError extends CastimerError {
  /** Seconds until a request would be allowed (the Retry-After header), or null. */
  readonly retryAfter: number | null;

  constructor(message: string, details: ErrorDetails) {
    super(message, details);
    this.retryAfter = retryAfterSeconds(details.headers ?? null);
  }
}

/** 503: the server's timer store is unreachable right now. */
export class ServiceUnavailableError extends CastimerError {}

/** A webhook whose signature or timestamp does not check out: answer it 400 or 401. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Retry-After in seconds: a number of seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterSeconds(headers: Headers | null, now: number = Date.now()): number | null {
  const raw = headers?.get("retry-after")?.trim();
  if (!raw) return null;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

/** The error for an answer that was not a success. */
export function errorFor(status: number, body: ErrorBody | null, headers: Headers): CastimerError {
  const details: ErrorDetails = { status, type: body?.type ?? "http_error", param: body?.param,
                                  body, headers };
  const message = body?.message ?? `HTTP ${status}`;
  if (status === 401) return new AuthenticationError(message, details);
  if (status === 404) return new NotFoundError(message, details);
  if (status === 409) return new ConflictError(message, details);
  if (status === 400 || status === 413 || status === 415 || status === 422) return new ValidationError(message, details);
  if (status === 429) return new RateLimitError(message, details);
  if (status === 503) return new ServiceUnavailableError(message, details);
  return new CastimerError(message, details);
}
