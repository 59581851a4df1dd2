// The rundowns resource (DESIGN §11): a show's timers in order, advanced one after another.
import type { Http } from "./http.js";
import type {
  AdvanceTarget, Rundown, RundownCreateParams, RundownUpdateParams,
} from "./models.js";

const path = (id: string) => `/rundowns/${encodeURIComponent(id)}`;

export class Rundowns {
  constructor(private readonly http: Http) {}

  /** POST /rundowns: a title and 1–200 distinct timers of the account, in order. */
  create(params: RundownCreateParams): Promise<Rundown> {
    return this.http.request("POST", "/rundowns", { body: params });
  }

  get(id: string): Promise<Rundown> {
    return this.http.request("GET", path(id));
  }

  /** Every rundown of the account, page by page. */
  list(params: { limit?: number } = {}): AsyncGenerator<Rundown, void, undefined> {
    return this.http.paginate("/rundowns", params);
  }

  /** PATCH /rundowns/{id}: the title, the timers (reorder, add, remove), auto_advance. */
  update(id: string, fields: RundownUpdateParams, expectedVersion?: number): Promise<Rundown> {
    const body = expectedVersion === undefined ? fields
      : { ...fields, expected_version: expectedVersion };
    return this.http.request("PATCH", path(id), { body });
  }

  /** DELETE /rundowns/{id}; its timers stay. */
  async delete(id: string, expectedVersion?: number): Promise<void> {
    await this.http.request("DELETE", path(id), { query: { expected_version: expectedVersion } });
  }

  /** A new control token (`urls.control`); the old one stops working at once. */
  rotateControlToken(id: string): Promise<Rundown> {
    return this.http.request("POST", `${path(id)}/control-token/rotate`);
  }

  /** Make the next, the previous or a given timer current and start it; the one it replaces
   * is stopped unless it already completed. */
  advance(id: string, to: AdvanceTarget, expectedVersion?: number,
          from?: string): Promise<Rundown> {
    const body: Record<string, unknown> = { to };
    if (expectedVersion !== undefined) body.expected_version = expectedVersion;
    if (from !== undefined) body.from = from;  // only if the show is still on that timer
    return this.http.request("POST", `${path(id)}/advance`, { body });
  }
}
