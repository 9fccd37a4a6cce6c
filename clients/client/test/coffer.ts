// The server every test talks to: a real Coffer that test.sh starts (or yours: COFFER_URL and COFFER_API_KEY).
import { randomUUID } from "node:crypto";
import { Coffer, CofferCustomer, type CofferCustomerOptions, type CofferOptions } from "@coffer/client";

const baseUrl = process.env.COFFER_URL;
const apiKey = process.env.COFFER_API_KEY;
if (!baseUrl || !apiKey) {
  throw new Error("set COFFER_URL and COFFER_API_KEY: these tests run against a real Coffer (test.sh starts one)");
}

export const server = { baseUrl, apiKey };

export function coffer(options: Partial<CofferOptions> = {}): Coffer {
  return new Coffer({ baseUrl: server.baseUrl, apiKey: server.apiKey, ...options });
}

/** An id no other test (or earlier run on the same database) uses. */
export function unique(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** A new customer with a USD wallet holding `credits`. */
export async function walletWith(credits: string, client: Coffer = coffer()) {
  const customer = await client.customers.create({ external_id: unique("user"), name: "Ada" });
  const wallet = await client.wallets.create({
    customer_id: customer.id,
    currency: "usd",
    initial_credits_to_load: credits,
  });
  return { customer, wallet };
}

/** A customer client for the customer behind `token` (or whatever `getToken` gives). */
export function customerClient(token: string, options: Partial<CofferCustomerOptions> = {}): CofferCustomer {
  return new CofferCustomer({ baseUrl: server.baseUrl, getToken: () => token, ...options });
}

/** Tenant settings with no client method (set up once by the merchant), written with the secret key. */
export async function putSetting(name: string, value: unknown): Promise<unknown> {
  const response = await fetch(`${server.baseUrl}/v1/settings/${name}`, {
    method: "PUT",
    headers: { "x-api-key": server.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
  if (!response.ok) throw new Error(`PUT /v1/settings/${name} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { value: unknown }).value;
}

export async function getSetting(name: string): Promise<unknown> {
  const response = await fetch(`${server.baseUrl}/v1/settings/${name}`, { headers: { "x-api-key": server.apiKey } });
  if (!response.ok) throw new Error(`GET /v1/settings/${name} answered ${response.status}`);
  return ((await response.json()) as { value: unknown }).value;
}
