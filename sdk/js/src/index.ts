// castimer-client: the JavaScript/TypeScript client of Castimer.
export { Castimer } from "./client.js";
export type { CastimerOptions, WebSocketConstructor } from "./http.js";
export {
  APIConnectionError, AuthenticationError, CastimerError, ConflictError, NotFoundError, RateLimitError,
  ServiceUnavailableError, ValidationError, WebhookVerificationError,
} from "./errors.js";
export type { ErrorBody, ErrorDetails } from "./errors.js";
export type { LiveOptions, LiveStatus, LiveUpdate } from "./live.js";
export type * from "./models.js";
export { verifyWebhook } from "./webhooks.js";
export type { VerifyOptions, WebhookHeaders } from "./webhooks.js";
export { onWidgetEvent } from "./widget.js";
export type { WidgetEvent, WidgetEventOptions } from "./widget.js";
export type { Timers } from "./timers.js";
export type { AccountResource, Deliveries, Events, Keys } from "./resources.js";
export type { Rundowns } from "./rundowns.js";
