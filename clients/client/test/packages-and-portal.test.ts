import { describe, expect, it } from "vitest";
import { coffer, server, unique, walletWith } from "./coffer.js";

/** Packages are set up by the merchant once (the dashboard or the API), outside this client's scope. */
async function createPackage(currency: string) {
  const response = await fetch(`${server.baseUrl}/v1/credit-packages`, {
    method: "POST",
    headers: { "x-api-key": server.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ name: unique("pack"), credits: "100", price: "9.99", currency }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string };
}

describe("credit packages", () => {
  it("are listed and bought for a wallet, the credits pending until the invoice is paid", async () => {
    const client = coffer();
    const pack = await createPackage("eur");
    const listed = await client.creditPackages.list({ currency: "eur", limit: 100 });
    expect(listed.items.find((p) => p.id === pack.id)).toMatchObject({ credits: "100", price: "9.99" });
    expect(listed.pagination).toMatchObject({ limit: 100, offset: 0 });
    expect(listed.pagination.total).toBeGreaterThanOrEqual(1);

    const customer = await client.customers.create({ external_id: unique("user") });
    const wallet = await client.wallets.create({ customer_id: customer.id, currency: "eur" });
    const key = unique("buy");
    const bought = await client.creditPackages.purchase(
      wallet.id,
      { package_id: pack.id, collection_method: "send_invoice" },
      { idempotencyKey: key },
    );
    expect(bought.invoice).toMatchObject({ total: "9.99", currency: "eur" });
    const again = await client.creditPackages.purchase(
      wallet.id,
      { package_id: pack.id, collection_method: "send_invoice" },
      { idempotencyKey: key },
    );
    expect(again.invoice.id).toBe(bought.invoice.id);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("0");
  });
});

describe("portal sessions", () => {
  it("give a one-time link for one customer", async () => {
    const client = coffer();
    const { customer } = await walletWith("1");
    const session = await client.portalSessions.create({
      external_customer_id: customer.external_id,
      expires_in_seconds: 600,
    });
    expect(session.customer_id).toBe(customer.id);
    expect(session.url).toMatch(/^https?:\/\/.+\/portal/);
    expect(typeof session.expires_at).toBe("string");
  });
});
