// The client: one object, resources as properties.
import { Http, type CastimerOptions } from "./http.js";
import { AccountResource, Deliveries, Events, Keys } from "./resources.js";
import { Rundowns } from "./rundowns.js";
import { Timers } from "./timers.js";

export class Castimer {
  readonly timers: Timers;
  readonly events: Events;
  readonly deliveries: Deliveries;
  readonly account: AccountResource;
  readonly keys: Keys;
  readonly rundowns: Rundowns;
  /** The server's address, as the requests use it. */
  readonly baseUrl: string;

  constructor(options: CastimerOptions) {
    const http = new Http(options);
    this.baseUrl = http.baseUrl;
    this.timers = new Timers(http);
    this.events = new Events(http);
    this.deliveries = new Deliveries(http);
    this.account = new AccountResource(http);
    this.keys = new Keys(http);
    this.rundowns = new Rundowns(http);
  }
}
