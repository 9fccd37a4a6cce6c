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

export type ListCustomersQuery = QueryOf<"/v1/customers", "get">;
export type ListWalletsQuery = QueryOf<"/v1/wallets", "get">;
export type GetWalletQuery = QueryOf<"/v1/wallets/{id}", "get">;
export type ListTransactionsQuery = QueryOf<"/v1/wallets/{id}/transactions", "get">;
export type ListHoldsQuery = QueryOf<"/v1/wallets/{id}/holds", "get">;
export type ListCreditPackagesQuery = QueryOf<"/v1/credit-packages", "get">;

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
