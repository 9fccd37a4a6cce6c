// Names for the shapes of src/openapi.d.ts (generated from the server's document): every method's argument and
// answer is one of these, so a change on the server that the client does not follow fails to compile.
import type { components, paths } from "./openapi.js";

export type { components, paths };

export type Method = "get" | "post" | "put" | "delete";

/** The operation at a path and method. */
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

type JsonContent<R> = R extends { content: { "application/json": infer J } } ? J : never;

/** The JSON body of an operation's success (200 or 201). */
export type SuccessOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? { [S in keyof R]: S extends 200 | 201 ? JsonContent<R[S]> : never }[keyof R]
    : never;

/** The JSON request body of an operation. */
export type BodyOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: infer B } ? JsonContent<NonNullable<B>> : never;

/** The query parameters of an operation. */
export type QueryOf<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type NullableKeys<T> = { [K in keyof T]-?: null extends T[K] ? K : never }[keyof T];

/**
 * A request body as a caller writes it. The server takes every nullable member as absent, so those may be left out
 * (the document marks some of them required only because of how the server declares them); `Needed` names the
 * members the server requires; the idempotency key is an option of the call, never part of the body.
 */
export type Input<T, Needed extends keyof T = never> = Simplify<
  { [K in Exclude<keyof T, NullableKeys<T> | Needed | "idempotency_key">]: T[K] } & {
    [K in Exclude<NullableKeys<T>, Needed | "idempotency_key">]?: T[K];
  } & { [K in Needed]-?: NonNullable<T[K]> }
>;

type Schemas = components["schemas"];

export type Customer = Schemas["CustomerDto"];
export type Wallet = Schemas["WalletDto"];
export type WalletBalance = Schemas["WalletBalanceDto"];
/** The answer to a top-up or debit: the wallet after it and the transaction it wrote. */
export type WalletChange = Schemas["WalletChangeResponse"];
export type Transaction = Schemas["TransactionDto"];
export type Hold = Schemas["HoldDto"];
/** The answer to a hold's creation, capture or release: the hold, the wallet and the capture's transaction. */
export type HoldChange = Schemas["HoldResponse"];
export type CreditPackage = Schemas["PackageDto"];
export type PackagePurchase = Schemas["PackagePurchaseResponse"];
export type PortalSession = Schemas["PortalSessionResponse"];
export type PaymentMethod = Schemas["PaymentMethodDto"];
export type Invoice = Schemas["InvoiceDto"];
export type CustomerSession = Schemas["CustomerSessionResponse"];
export type ClientConfig = Schemas["ClientConfigResponse"];
export type Pagination = Schemas["Pagination"];
export type ErrorEnvelope = Schemas["ErrorEnvelope"];

export type CreateCustomerInput = Input<Schemas["CustomerRequest"], "external_id">;
export type CreateWalletInput = Input<Schemas["CreateWalletRequest"], "currency">;
export type TopUpInput = Input<Schemas["TopUpRequest"]>;
export type DebitInput = Input<Schemas["DebitRequest"]>;
export type CreateHoldInput = Input<Schemas["CreateHoldRequest"]>;
export type CaptureHoldInput = Input<Schemas["CaptureHoldRequest"]>;
export type PurchasePackageInput = Input<Schemas["PurchasePackageRequest"], "package_id">;
export type CreatePortalSessionInput = Input<Schemas["PortalSessionRequest"]>;
export type CreatePaymentMethodInput = Input<Schemas["CreatePaymentMethodRequest"], "type">;
/** The customer a token speaks for, by Coffer's id or by yours; 60 to 86400 seconds (default 3600). */
export type CreateCustomerSessionInput =
  | { customer_id: string; external_customer_id?: never; expires_in_seconds?: number }
  | { external_customer_id: string; customer_id?: never; expires_in_seconds?: number };

export type ListCustomersQuery = QueryOf<"/v1/customers", "get">;
export type ListWalletsQuery = QueryOf<"/v1/wallets", "get">;
export type GetWalletQuery = QueryOf<"/v1/wallets/{id}", "get">;
export type ListTransactionsQuery = QueryOf<"/v1/wallets/{id}/transactions", "get">;
export type ListHoldsQuery = QueryOf<"/v1/wallets/{id}/holds", "get">;
export type ListCreditPackagesQuery = QueryOf<"/v1/credit-packages", "get">;
export type ListPaymentMethodsQuery = QueryOf<"/v1/customers/{id}/payment-methods", "get">;

// The customer API (`CofferCustomer`): what a customer's browser sees with a customer token.

/** A wallet with its open lots (credits by kind and expiry) and its active holds. */
export type CustomerWallet = Schemas["CustomerWalletDto"];
export type CustomerLot = Schemas["CustomerLotDto"];
/** A page of a wallet's history, newest first; `next_cursor` asks for the next page (null on the last). */
export type CustomerTransactionPage = Schemas["CustomerTransactionPage"];
/**
 * What a top-up or package purchase did: `outcome` `credits_granted` (a saved card paid), `payment_processing`
 * (the card's answer is not in yet), `invoice_raised` (credits arrive when the invoice is paid) or
 * `payment_action` (send the customer to `payment_action.url`, the hosted checkout).
 */
export type CustomerPurchase = Schemas["CustomerPurchaseResponse"];
export type PaymentAction = Schemas["PaymentActionDto"];
/** The wallet's automatic top-up, and what the merchant offers (`offered`, the limits). */
export type CustomerAutoTopUp = Schemas["CustomerAutoTopUpDto"];
export type CustomerAutoTopUpChange = Schemas["CustomerAutoTopUpResponse"];
export type AutoTopUpPreview = Schemas["AutoTopUpPreview"];

export type CustomerTopUpInput = Input<Schemas["CustomerTopUpRequest"], "amount">;
export type CustomerPurchasePackageInput = Input<Schemas["CustomerPackagePurchaseRequest"], "package_id">;
/** `enabled: false` turns it off; `enabled: true` needs `threshold` and `amount` (credits). */
export type CustomerAutoTopUpInput = Input<Schemas["CustomerAutoTopUpRequest"], "enabled">;

export type CustomerTransactionsQuery = QueryOf<"/v1/customer/wallets/{id}/transactions", "get">;
export type CustomerPackagesQuery = QueryOf<"/v1/customer/packages", "get">;
export type CustomerInvoicesQuery = QueryOf<"/v1/customer/invoices", "get">;

/** Options of every call. */
export interface CallOptions {
  /** Aborts the call, its retries included. */
  signal?: AbortSignal | undefined;
}

/** Options of a call the API makes idempotent. */
export interface IdempotentCallOptions extends CallOptions {
  /**
   * The call's idempotency key: the same key with the same request applies the change once and replays its answer.
   * Give one per user action (an order id, a request id) to make your own retries safe; without one the client
   * makes one for this call, and its own retries reuse it.
   */
  idempotencyKey?: string | undefined;
}
