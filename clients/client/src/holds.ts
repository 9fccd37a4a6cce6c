import { idempotencyKey, type Transport } from "./transport.js";
import type {
  CallOptions,
  CaptureHoldInput,
  CreateHoldInput,
  HoldChange,
  IdempotentCallOptions,
  ListHoldsQuery,
  SuccessOf,
} from "./types.js";

/** Credits reserved before the work that spends them: capture what was used, release the rest. */
export class Holds {
  constructor(private readonly t: Transport) {}

  /** Reserves `credits` (or `amount`) on a wallet, optionally until `expires_at`. */
  create(walletId: string, input: CreateHoldInput, options: IdempotentCallOptions = {}): Promise<HoldChange> {
    return this.t.request("post", "/v1/wallets/{id}/holds", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "body" },
      signal: options.signal,
    });
  }

  /** Debits all of the hold, or the `credits` (or `amount`) given, and ends it. */
  capture(
    walletId: string,
    holdId: string,
    input: CaptureHoldInput = {},
    options: IdempotentCallOptions = {},
  ): Promise<HoldChange> {
    return this.t.request("post", "/v1/wallets/{id}/holds/{hold_id}/capture", {
      params: { id: walletId, hold_id: holdId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "body" },
      signal: options.signal,
    });
  }

  /** Ends the hold without spending. */
  release(walletId: string, holdId: string, options: IdempotentCallOptions = {}): Promise<HoldChange> {
    return this.t.request("post", "/v1/wallets/{id}/holds/{hold_id}/release", {
      params: { id: walletId, hold_id: holdId },
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "header" },
      signal: options.signal,
    });
  }

  list(
    walletId: string,
    query: ListHoldsQuery = {},
    options: CallOptions = {},
  ): Promise<SuccessOf<"/v1/wallets/{id}/holds", "get">> {
    return this.t.request("get", "/v1/wallets/{id}/holds", { params: { id: walletId }, query, signal: options.signal });
  }
}
