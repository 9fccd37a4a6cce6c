// The server every test talks to: a real Coffer that test.sh starts (or yours: COFFER_URL and COFFER_API_KEY).
import { randomUUID } from "node:crypto";
import { Coffer } from "@coffer/client";

const baseUrl = process.env.COFFER_URL;
const apiKey = process.env.COFFER_API_KEY;
if (!baseUrl || !apiKey) {
  throw new Error("set COFFER_URL and COFFER_API_KEY: these tests run against a real Coffer (test.sh starts one)");
}

export const server = { baseUrl, apiKey };
export const coffer = new Coffer({ baseUrl, apiKey });

export function unique(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** A new customer with a USD wallet holding `credits`, and a customer token for it (what the merchant's server mints). */
export async function signedIn(credits = "0") {
  const customer = await coffer.customers.create({ external_id: unique("user"), name: "Ada" });
  const wallet = await coffer.wallets.create({ customer_id: customer.id, currency: "usd", initial_credits_to_load: credits });
  const session = await coffer.customerSessions.create({ customer_id: customer.id, expires_in_seconds: 600 });
  return { customer, wallet, session };
}

/** A package on sale, made with the secret key. */
export async function packageOf(credits: string, price: string): Promise<{ id: string }> {
  const response = await fetch(`${baseUrl}/v1/credit-packages`, {
    method: "POST",
    headers: { "x-api-key": apiKey!, "content-type": "application/json" },
    body: JSON.stringify({ name: unique("pack"), credits, price, currency: "usd" }),
  });
  if (response.status !== 201) throw new Error(`POST /v1/credit-packages answered ${response.status}`);
  return (await response.json()) as { id: string };
}

export async function putSetting(name: string, value: unknown): Promise<void> {
  const response = await fetch(`${baseUrl}/v1/settings/${name}`, {
    method: "PUT",
    headers: { "x-api-key": apiKey!, "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
  if (!response.ok) throw new Error(`PUT /v1/settings/${name} answered ${response.status}`);
}

export async function getSetting(name: string): Promise<unknown> {
  const response = await fetch(`${baseUrl}/v1/settings/${name}`, { headers: { "x-api-key": apiKey! } });
  if (!response.ok) throw new Error(`GET /v1/settings/${name} answered ${response.status}`);
  return ((await response.json()) as { value: unknown }).value;
}
