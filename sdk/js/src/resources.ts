// The account's other resources: its event log, webhook deliveries, the account itself and its
// API keys.
import type { Http } from "./http.js";
import type {
  Account, ApiKey, CreatedApiKey, Delivery, DeliveryDetail, Page, CastimerEvent, WebhookSecret,
} from "./models.js";

export class Events {
  constructor(private readonly http: Http) {}

  /** GET /events: the account's event log, oldest first (`timer_id`: one timer's only;
   * `limit`: page size, 1–500). */
  list(params: { timer_id?: string; limit?: number } = {}): AsyncGenerator<CastimerEvent, void, undefined> {
    return this.http.paginate("/events", params);
  }
}

export class Deliveries {
  constructor(private readonly http: Http) {}

  /** A timer's webhook deliveries (`GET /timers/{id}/deliveries`), or a rundown's for an id
   * `rnd_…` (`GET /rundowns/{id}/deliveries`), newest first. */
  list(id: string, params: { limit?: number } = {}): AsyncGenerator<Delivery, void, undefined> {
    const owner = id.startsWith("rnd_") ? "rundowns" : "timers";
    return this.http.paginate(`/${owner}/${encodeURIComponent(id)}/deliveries`, params);
  }

  /** GET /deliveries/{id}: with its payload and every attempt. */
  get(id: string): Promise<DeliveryDetail> {
    return this.http.request("GET", `/deliveries/${encodeURIComponent(id)}`);
  }

  /** POST /deliveries/{id}/retry: send a finished delivery again (409 while it is pending). */
  retry(id: string): Promise<Delivery> {
    return this.http.request("POST", `/deliveries/${encodeURIComponent(id)}/retry`);
  }
}

export class AccountResource {
  constructor(private readonly http: Http) {}

  /** GET /account: plan, limits, today's usage, the webhook signing secret. */
  get(): Promise<Account> {
    return this.http.request("GET", "/account");
  }

  /** A new signing secret; the old one goes on signing beside it for 24 hours. */
  rotateWebhookSecret(): Promise<WebhookSecret> {
    return this.http.request("POST", "/account/webhook-secret/rotate");
  }
}

export class Keys {
  constructor(private readonly http: Http) {}

  /** The account's API keys by prefix, oldest first, revoked ones too. */
  async *list(): AsyncGenerator<ApiKey, void, undefined> {
    yield* (await this.http.request<Pick<Page<ApiKey>, "data">>("GET", "/keys")).data;
  }

  /** A new key; the answer is the only place it is ever shown. */
  create(): Promise<CreatedApiKey> {
    return this.http.request("POST", "/keys");
  }

  /** Revoke a key (the calling one too): it stops working at once. */
  revoke(id: string): Promise<ApiKey> {
    return this.http.request("DELETE", `/keys/${encodeURIComponent(id)}`);
  }
}
