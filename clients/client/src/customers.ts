import type { Transport } from "./transport.js";
import type { CallOptions, CreateCustomerInput, Customer, ListCustomersQuery, SuccessOf } from "./types.js";

export class Customers {
  constructor(private readonly t: Transport) {}

  /** Creates a customer; `external_id` (your user's id) is unique per tenant (409 `already_exists`). */
  create(input: CreateCustomerInput, options: CallOptions = {}): Promise<Customer> {
    return this.t.request("post", "/v1/customers", { body: input, signal: options.signal });
  }

  get(customerId: string, options: CallOptions = {}): Promise<Customer> {
    return this.t.request("get", "/v1/customers/{id}", { params: { id: customerId }, signal: options.signal });
  }

  /** The customer with your own id for it. */
  getByExternalId(externalId: string, options: CallOptions = {}): Promise<Customer> {
    return this.t.request("get", "/v1/customers/external/{external_id}", {
      params: { external_id: externalId },
      signal: options.signal,
    });
  }

  list(query: ListCustomersQuery = {}, options: CallOptions = {}): Promise<SuccessOf<"/v1/customers", "get">> {
    return this.t.request("get", "/v1/customers", { query, signal: options.signal });
  }
}
