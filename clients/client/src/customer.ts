// The customer API: what a customer's browser (your front end) calls with a customer token your server minted
// (`coffer.customerSessions.create`). Same transport, so the same idempotency keys, retries and errors.
import { type FetchLike, idempotencyKey, Transport } from "./transport.js";
import type {
  AutoTopUpPreview,
  CallOptions,
  CreditPackage,
  CustomerAutoTopUp,
  CustomerAutoTopUpChange,
  CustomerAutoTopUpInput,
  CustomerInvoicesQuery,
  CustomerPackagesQuery,
  CustomerPurchase,
  CustomerPurchasePackageInput,
  CustomerTopUpInput,
  CustomerTransactionPage,
  CustomerTransactionsQuery,
  CustomerWallet,
  IdempotentCallOptions,
  PaymentAction,
  PaymentMethod,
  SuccessOf,
  Transaction,
  Wallet,
} from "./types.js";

export interface CofferCustomerOptions {
  /** Where Coffer is served, e.g. `https://coffer.example.com`. The page's origin must be in `client_config`. */
  baseUrl: string;
  /**
   * The customer token (`ctok_…`) your server minted for the signed-in user, asked for before every request: cache
   * it, and mint a new one when it is about to expire. A 401 `unauthorized` means the token expired or was revoked:
   * the client then asks once more and, when it gets a different token, sends the call once more with it.
   */
  getToken: () => Promise<string> | string;
  /** A fetch to use instead of the global one. */
  fetch?: FetchLike | undefined;
  /** Retries after a network error or a 503, 0 to 2; default 2. A retry sends the same idempotency key. */
  maxRetries?: number | undefined;
}

async function bearer(getToken: () => Promise<string> | string): Promise<Record<string, string>> {
  const token = await getToken();
  if (typeof token !== "string" || token.length === 0) throw new TypeError("getToken must give a customer token");
  return { authorization: `Bearer ${token}` };
}

/** One customer's credits, from the browser: wallets, history, top-ups, packages, cards and invoices. */
export class CofferCustomer {
  readonly wallets: CustomerWallets;
  readonly packages: CustomerPackages;
  readonly paymentMethods: CustomerPaymentMethods;
  readonly invoices: CustomerInvoices;

  constructor(options: CofferCustomerOptions) {
    const { getToken } = options;
    if (typeof getToken !== "function") throw new TypeError("getToken is required");
    const t = new Transport({
      baseUrl: options.baseUrl,
      credentials: { headers: () => bearer(getToken), renew: () => bearer(getToken) },
      fetch: options.fetch,
      maxRetries: options.maxRetries,
    });
    this.wallets = new CustomerWallets(t);
    this.packages = new CustomerPackages(t);
    this.paymentMethods = new CustomerPaymentMethods(t);
    this.invoices = new CustomerInvoices(t);
  }
}

export class CustomerWallets {
  /** The wallet's automatic top-up, within what the merchant offers (`portal_config`). */
  readonly autoTopUp: CustomerAutoTopUps;

  constructor(private readonly t: Transport) {
    this.autoTopUp = new CustomerAutoTopUps(t);
  }

  /** The customer's wallets, with their balances. */
  async list(options: CallOptions = {}): Promise<Wallet[]> {
    return (await this.t.request("get", "/v1/customer/wallets", { signal: options.signal })).items;
  }

  /** One wallet with its open lots and active holds; another customer's is 404 `not_found`. */
  get(walletId: string, options: CallOptions = {}): Promise<CustomerWallet> {
    return this.t.request("get", "/v1/customer/wallets/{id}", { params: { id: walletId }, signal: options.signal });
  }

  /** A page of the wallet's history, newest first (`limit` 1 to 100, default 20); pass `next_cursor` as `cursor`. */
  transactions(
    walletId: string,
    query: CustomerTransactionsQuery = {},
    options: CallOptions = {},
  ): Promise<CustomerTransactionPage> {
    return this.t.request("get", "/v1/customer/wallets/{id}/transactions", {
      params: { id: walletId },
      query,
      signal: options.signal,
    });
  }

  /** Every entry of the wallet's history, newest first, fetched a page (`limit`) at a time as you iterate. */
  async *allTransactions(
    walletId: string,
    query: Omit<CustomerTransactionsQuery, "cursor"> = {},
    options: CallOptions = {},
  ): AsyncGenerator<Transaction, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.transactions(walletId, cursor === undefined ? query : { ...query, cursor }, options);
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /**
   * Buys credits for `amount` (money, in the wallet's currency): with a saved card (`payment_method_id`) it is
   * charged now; without one the answer is `payment_action` with the hosted checkout's `url` (`success_url` and
   * `cancel_url` say where it returns). A declined card is 402 `payment_failed`.
   */
  topUp(walletId: string, input: CustomerTopUpInput, options: IdempotentCallOptions = {}): Promise<CustomerPurchase> {
    return this.t.request("post", "/v1/customer/wallets/{id}/top-up", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "header" },
      signal: options.signal,
    });
  }

  /**
   * Buys a package: with a saved card it is charged (`collection_method` `charge_automatically`, the default then),
   * without one the answer is `payment_action` (the checkout), or `invoice_raised` with `send_invoice`.
   */
  purchasePackage(
    walletId: string,
    input: CustomerPurchasePackageInput,
    options: IdempotentCallOptions = {},
  ): Promise<CustomerPurchase> {
    return this.t.request("post", "/v1/customer/wallets/{id}/purchase-package", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "header" },
      signal: options.signal,
    });
  }
}

export class CustomerAutoTopUps {
  constructor(private readonly t: Transport) {}

  get(walletId: string, options: CallOptions = {}): Promise<CustomerAutoTopUp> {
    return this.t.request("get", "/v1/customer/wallets/{id}/auto-topup", {
      params: { id: walletId },
      signal: options.signal,
    });
  }

  /**
   * Turns it on (`threshold` and `amount` in credits, optional `max_topups_per_day`, `payment_method_id` or none for
   * an invoice) or off (`enabled: false`). 403 `not_allowed` when the merchant does not offer it, 422
   * `limit_exceeded` above its limits; `topping_up_now` when saving started a top-up.
   */
  set(walletId: string, settings: CustomerAutoTopUpInput, options: IdempotentCallOptions = {}): Promise<CustomerAutoTopUpChange> {
    return this.t.request("put", "/v1/customer/wallets/{id}/auto-topup", {
      params: { id: walletId },
      body: settings,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "header" },
      signal: options.signal,
    });
  }

  /** Whether saving these settings would start a top-up now (`would_top_up_now`); saves nothing. */
  preview(walletId: string, settings: CustomerAutoTopUpInput, options: CallOptions = {}): Promise<AutoTopUpPreview> {
    return this.t.request("post", "/v1/customer/wallets/{id}/auto-topup/preview", {
      params: { id: walletId },
      body: settings,
      signal: options.signal,
    });
  }
}

export class CustomerPackages {
  constructor(private readonly t: Transport) {}

  /** The packages on sale, optionally in one currency. */
  async list(query: CustomerPackagesQuery = {}, options: CallOptions = {}): Promise<CreditPackage[]> {
    return (await this.t.request("get", "/v1/customer/packages", { query, signal: options.signal })).items;
  }
}

export class CustomerPaymentMethods {
  constructor(private readonly t: Transport) {}

  /** The customer's saved cards. */
  async list(options: CallOptions = {}): Promise<PaymentMethod[]> {
    return (await this.t.request("get", "/v1/customer/payment-methods", { signal: options.signal })).items;
  }

  /** Removes a saved card. */
  async detach(paymentMethodId: string, options: CallOptions = {}): Promise<void> {
    await this.t.request("delete", "/v1/customer/payment-methods/{id}", {
      params: { id: paymentMethodId },
      signal: options.signal,
    });
  }
}

export class CustomerInvoices {
  constructor(private readonly t: Transport) {}

  /** The customer's invoices, newest first, a page (`limit`, `offset`) at a time. */
  list(
    query: CustomerInvoicesQuery = {},
    options: CallOptions = {},
  ): Promise<SuccessOf<"/v1/customer/invoices", "get">> {
    return this.t.request("get", "/v1/customer/invoices", { query, signal: options.signal });
  }

  /** A hosted checkout link for what is left to pay (an open one is the same link); send the customer to `url`. */
  pay(invoiceId: string, options: CallOptions = {}): Promise<PaymentAction> {
    return this.t.request("post", "/v1/customer/invoices/{id}/pay", { params: { id: invoiceId }, signal: options.signal });
  }
}
