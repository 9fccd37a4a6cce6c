import { CreditPackages } from "./credit-packages.js";
import { CustomerSessions } from "./customer-sessions.js";
import { Customers } from "./customers.js";
import { Holds } from "./holds.js";
import { PaymentMethods } from "./payment-methods.js";
import { PortalSessions } from "./portal-sessions.js";
import { Settings } from "./settings.js";
import { type FetchLike, Transport } from "./transport.js";
import { Wallets } from "./wallets.js";

export interface CofferOptions {
  /** A secret API key (`sk_…`): keep it on your server, never in a browser. */
  apiKey: string;
  /** Where Coffer is served, e.g. `https://coffer.example.com`. */
  baseUrl: string;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike | undefined;
  /**
   * Retries after a network error or a 503 (`service_unavailable`, or `outcome_unknown` for a call with a key),
   * 0 to 2; default 2. A retry sends the same idempotency key.
   */
  maxRetries?: number | undefined;
}

/** The secret-key API: what a merchant's server calls. */
export class Coffer {
  readonly customers: Customers;
  readonly wallets: Wallets;
  readonly holds: Holds;
  readonly creditPackages: CreditPackages;
  readonly portalSessions: PortalSessions;
  readonly customerSessions: CustomerSessions;
  readonly paymentMethods: PaymentMethods;
  readonly settings: Settings;

  constructor(options: CofferOptions) {
    const { apiKey } = options;
    if (typeof apiKey !== "string" || apiKey.length === 0) throw new TypeError("apiKey is required");
    const headers = { "x-api-key": apiKey };
    const t = new Transport({
      baseUrl: options.baseUrl,
      credentials: { headers: () => headers },
      fetch: options.fetch,
      maxRetries: options.maxRetries,
    });
    this.customers = new Customers(t);
    this.wallets = new Wallets(t);
    this.holds = new Holds(t);
    this.creditPackages = new CreditPackages(t);
    this.portalSessions = new PortalSessions(t);
    this.customerSessions = new CustomerSessions(t);
    this.paymentMethods = new PaymentMethods(t);
    this.settings = new Settings(t);
  }
}
