import { idempotencyKey, type Transport } from "./transport.js";
import type {
  CallOptions,
  CreateWalletInput,
  DebitInput,
  GetWalletQuery,
  IdempotentCallOptions,
  ListTransactionsQuery,
  ListWalletsQuery,
  SuccessOf,
  TopUpInput,
  Wallet,
  WalletBalance,
  WalletChange,
} from "./types.js";

export class Wallets {
  constructor(private readonly t: Transport) {}

  /** Opens a wallet for a customer (`customer_id` or `external_customer_id`) in one currency. */
  create(input: CreateWalletInput, options: IdempotentCallOptions = {}): Promise<Wallet> {
    return this.t.request("post", "/v1/wallets", {
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "header" },
      signal: options.signal,
    });
  }

  get(walletId: string, query: GetWalletQuery = {}, options: CallOptions = {}): Promise<Wallet> {
    return this.t.request("get", "/v1/wallets/{id}", { params: { id: walletId }, query, signal: options.signal });
  }

  /** Wallets of the tenant, a page at a time; filter with `customer_id`, `wallet_status`. */
  list(query: ListWalletsQuery = {}, options: CallOptions = {}): Promise<SuccessOf<"/v1/wallets", "get">> {
    return this.t.request("get", "/v1/wallets", { query, signal: options.signal });
  }

  /** Every wallet of one customer. */
  listForCustomer(customerId: string, options: CallOptions = {}): Promise<Wallet[]> {
    return this.t.request("get", "/v1/customers/{id}/wallets", { params: { id: customerId }, signal: options.signal });
  }

  /** The balance as of now: expired credits and active holds taken into account. */
  balance(walletId: string, options: CallOptions = {}): Promise<WalletBalance> {
    return this.t.request("get", "/v1/wallets/{id}/balance/real-time", { params: { id: walletId }, signal: options.signal });
  }

  /** Adds credits (`credits_to_add`, or `amount` at the wallet's top-up rate). */
  topUp(walletId: string, input: TopUpInput, options: IdempotentCallOptions = {}): Promise<WalletChange> {
    return this.t.request("post", "/v1/wallets/{id}/top-up", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "body" },
      signal: options.signal,
    });
  }

  /** Spends credits (`credits`, or `amount` at the wallet's rate); 422 `insufficient_balance` when they are not there. */
  debit(walletId: string, input: DebitInput, options: IdempotentCallOptions = {}): Promise<WalletChange> {
    return this.t.request("post", "/v1/wallets/{id}/debit", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "body" },
      signal: options.signal,
    });
  }

  /** The wallet's ledger, a page at a time. */
  transactions(
    walletId: string,
    query: ListTransactionsQuery = {},
    options: CallOptions = {},
  ): Promise<SuccessOf<"/v1/wallets/{id}/transactions", "get">> {
    return this.t.request("get", "/v1/wallets/{id}/transactions", {
      params: { id: walletId },
      query,
      signal: options.signal,
    });
  }
}
