import { idempotencyKey, type Transport } from "./transport.js";
import type {
  CallOptions,
  IdempotentCallOptions,
  ListCreditPackagesQuery,
  PackagePurchase,
  PurchasePackageInput,
  SuccessOf,
} from "./types.js";

export class CreditPackages {
  constructor(private readonly t: Transport) {}

  /** One page of the packages on sale (`{ items, pagination }`), optionally in one currency. */
  list(query: ListCreditPackagesQuery = {}, options: CallOptions = {}): Promise<SuccessOf<"/v1/credit-packages", "get">> {
    return this.t.request("get", "/v1/credit-packages", { query, signal: options.signal });
  }

  /**
   * Buys a package for a wallet: pending credits and a CREDIT invoice; `charge_automatically` charges the
   * customer's saved cards now, `send_invoice` leaves the invoice to be paid. Credits arrive when it is paid.
   */
  purchase(walletId: string, input: PurchasePackageInput, options: IdempotentCallOptions = {}): Promise<PackagePurchase> {
    return this.t.request("post", "/v1/wallets/{id}/purchase-package", {
      params: { id: walletId },
      body: input,
      idempotency: { key: idempotencyKey(options.idempotencyKey), in: "body" },
      signal: options.signal,
    });
  }
}
