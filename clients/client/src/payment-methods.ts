import type { Transport } from "./transport.js";
import type { CallOptions, CreatePaymentMethodInput, ListPaymentMethodsQuery, PaymentMethod, SuccessOf } from "./types.js";

/** A customer's saved payment methods (cards), which top-ups and purchases may charge. */
export class PaymentMethods {
  constructor(private readonly t: Transport) {}

  /** Saves one: `{ type: "card", token }` from the gateway (or, with the sandbox, a test `card_number`). */
  create(customerId: string, input: CreatePaymentMethodInput, options: CallOptions = {}): Promise<PaymentMethod> {
    return this.t.request("post", "/v1/customers/{id}/payment-methods", {
      params: { id: customerId },
      body: input,
      signal: options.signal,
    });
  }

  /** One page of the customer's saved methods (`{ items, pagination }`), in the order they are charged. */
  list(
    customerId: string,
    query: ListPaymentMethodsQuery = {},
    options: CallOptions = {},
  ): Promise<SuccessOf<"/v1/customers/{id}/payment-methods", "get">> {
    return this.t.request("get", "/v1/customers/{id}/payment-methods", {
      params: { id: customerId },
      query,
      signal: options.signal,
    });
  }

  async remove(customerId: string, methodId: string, options: CallOptions = {}): Promise<void> {
    await this.t.request("delete", "/v1/customers/{id}/payment-methods/{method_id}", {
      params: { id: customerId, method_id: methodId },
      signal: options.signal,
    });
  }
}
