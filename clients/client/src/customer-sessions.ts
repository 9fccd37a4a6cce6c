import type { Transport } from "./transport.js";
import type { CallOptions, CreateCustomerSessionInput, CustomerSession } from "./types.js";

/** Customer tokens: what your server gives your front end so it can call the customer API (`CofferCustomer`). */
export class CustomerSessions {
  constructor(private readonly t: Transport) {}

  /**
   * Mints a token for one customer (`customer_id` or `external_customer_id`), valid `expires_in_seconds` (60 to
   * 86400, default 3600). Hand `token` to that customer's browser only: it sees that customer's wallets and nothing else.
   */
  create(input: CreateCustomerSessionInput, options: CallOptions = {}): Promise<CustomerSession> {
    return this.t.request("post", "/v1/customer-sessions", { body: input, signal: options.signal });
  }

  /** Ends a token at once (its session `id`, `cses_…`), e.g. when the user signs out. */
  async revoke(sessionId: string, options: CallOptions = {}): Promise<void> {
    await this.t.request("delete", "/v1/customer-sessions/{id}", { params: { id: sessionId }, signal: options.signal });
  }
}
