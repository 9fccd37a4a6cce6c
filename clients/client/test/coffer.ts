// The server every test talks to: a real Coffer that test.sh starts (or yours: COFFER_URL and COFFER_API_KEY).
import { randomUUID } from "node:crypto";
import { Coffer, type CofferOptions } from "@coffer/client";

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
