import type { Transport } from "./transport.js";
import type { CallOptions, CreatePortalSessionInput, PortalSession } from "./types.js";

export class PortalSessions {
  constructor(private readonly t: Transport) {}

  /** A signed one-time link to the customer portal for one customer (`customer_id` or `external_customer_id`). */
  create(input: CreatePortalSessionInput, options: CallOptions = {}): Promise<PortalSession> {
    return this.t.request("post", "/v1/portal/sessions", { body: input, signal: options.signal });
  }
}
