import { CofferError } from "@coffer/client";
import { describe, expect, it } from "vitest";
import { coffer, customerClient, getSetting, putSetting, server, unique, walletWith } from "./coffer.js";

/** A customer with a USD wallet, and a customer token for it minted by the merchant's server. */
async function signedIn(credits = "0") {
  const client = coffer();
  const { customer, wallet } = await walletWith(credits, client);
  const session = await client.customerSessions.create({ customer_id: customer.id, expires_in_seconds: 600 });
  return { client, customer, wallet, session, me: customerClient(session.token) };
}

describe("customer sessions", () => {
  it("mint a token for one customer, by Coffer's id or the merchant's", async () => {
    const client = coffer();
    const { customer } = await walletWith("0", client);
    const byId = await client.customerSessions.create({ customer_id: customer.id });
    expect(byId).toMatchObject({ customer_id: customer.id });
    expect(byId.id).toMatch(/^cses_/);
    expect(byId.token).toMatch(/^ctok_/);
    expect(typeof byId.expires_at).toBe("string");
    const byExternal = await client.customerSessions.create({
      external_customer_id: customer.external_id,
      expires_in_seconds: 60,
    });
    expect(byExternal.customer_id).toBe(customer.id);
    expect(byExternal.token).not.toBe(byId.token);
  });

  it("an unknown customer is 404 not_found", async () => {
    const error = await coffer()
      .customerSessions.create({ external_customer_id: unique("nobody") })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 404, code: "not_found" });
  });

  it("a revoked token is 401 unauthorized", async () => {
    const { client, session, me } = await signedIn("1");
    expect(await me.wallets.list()).toHaveLength(1);
    await client.customerSessions.revoke(session.id);
    const error = await me.wallets.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("after a 401 the client asks getToken once more and sends the call again with the fresh token", async () => {
    const { client, customer, wallet, session } = await signedIn("1");
    await client.customerSessions.revoke(session.id);
    const fresh = await client.customerSessions.create({ customer_id: customer.id });
    const given = [session.token, fresh.token];
    let asked = 0;
    const me = customerClient("", { getToken: () => given[Math.min(asked++, 1)] ?? "" });
    expect((await me.wallets.list()).map((w) => w.id)).toEqual([wallet.id]);
    expect(asked).toBe(2);
  });
});

describe("the customer API", () => {
  it("lists the customer's own wallets, with lots; another customer's wallet is 404 not_found", async () => {
    const { wallet, me } = await signedIn("5");
    const wallets = await me.wallets.list();
    expect(wallets.map((w) => [w.id, w.currency])).toEqual([[wallet.id, "usd"]]);
    const one = await me.wallets.get(wallet.id);
    expect(one.wallet.id).toBe(wallet.id);
    expect(one.lots.map((l) => [l.kind, l.credits_available])).toEqual([["free", "5"]]);
    expect(one.holds).toEqual([]);

    const other = await walletWith("5");
    const error = await me.wallets.get(other.wallet.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 404, code: "not_found" });
    await expect(me.wallets.transactions(other.wallet.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
  });

  it("tops up with a saved card: credits granted once, and the same key replays the same invoice", async () => {
    const { client, customer, wallet, me } = await signedIn("0");
    const card = await client.paymentMethods.create(customer.id, { type: "card", card_number: "4242424242424242" });
    expect((await me.paymentMethods.list()).map((m) => [m.id, m.last4])).toEqual([[card.id, "4242"]]);

    const key = unique("top-up");
    const first = await me.wallets.topUp(wallet.id, { amount: "10", payment_method_id: card.id }, { idempotencyKey: key });
    expect(first.outcome).toBe("credits_granted");
    expect(first.payment_action).toBeNull();
    const after = (await client.wallets.balance(wallet.id)).real_time_credit_balance;
    expect(after).toBe("10"); // the wallet's top-up rate is 1 credit per dollar
    expect(first.wallet.credit_balance).toBe("10");

    const again = await me.wallets.topUp(wallet.id, { amount: "10", payment_method_id: card.id }, { idempotencyKey: key });
    expect(again.outcome).toBe("credits_granted");
    expect(again.invoice.id).toBe(first.invoice.id);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe(after);
    expect((await me.invoices.list()).items.map((i) => i.id)).toEqual([first.invoice.id]);
  });

  it("a top-up whose answer is lost is sent again with the key the client made, and charged once", async () => {
    const { client, customer, wallet, session } = await signedIn("0");
    const card = await client.paymentMethods.create(customer.id, { type: "card", card_number: "4242424242424242" });
    const keys: unknown[] = [];
    const me = customerClient(session.token, {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (input.endsWith("/top-up")) {
          keys.push(new Headers(init.headers).get("idempotency-key"));
          if (keys.length === 1) throw new TypeError("fetch failed: the connection was reset");
        }
        return response;
      },
    });
    const bought = await me.wallets.topUp(wallet.id, { amount: "3", payment_method_id: card.id });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(bought.outcome).toBe("credits_granted");
    expect((await me.invoices.list()).items).toHaveLength(1);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("3");
  });

  it("a top-up without a card answers payment_action with the checkout's URL", async () => {
    const { wallet, me } = await signedIn("0");
    const bought = await me.wallets.topUp(wallet.id, {
      amount: "5",
      success_url: "https://app.example.com/paid",
      cancel_url: "https://app.example.com/cancelled",
    });
    expect(bought.outcome).toBe("payment_action");
    expect(bought.payment_action?.url).toMatch(/^https?:\/\//);
    expect(bought.invoice.id).toBeDefined();
    const link = await me.invoices.pay(bought.invoice.id);
    expect(link.url).toMatch(/^https?:\/\//);
  });

  it("buys a package listed for the customer, paid at the checkout without a card", async () => {
    const { wallet, me } = await signedIn("0");
    const response = await fetch(`${server.baseUrl}/v1/credit-packages`, {
      method: "POST",
      headers: { "x-api-key": server.apiKey, "content-type": "application/json" },
      body: JSON.stringify({ name: unique("pack"), credits: "50", price: "4.99", currency: "usd" }),
    });
    expect(response.status).toBe(201);
    const pack = (await response.json()) as { id: string };
    expect((await me.packages.list({ currency: "usd" })).find((p) => p.id === pack.id)).toMatchObject({
      credits: "50",
      price: "4.99",
    });
    const key = unique("buy");
    const bought = await me.wallets.purchasePackage(wallet.id, { package_id: pack.id }, { idempotencyKey: key });
    expect(bought.outcome).toBe("payment_action");
    expect(bought.invoice.total).toBe("4.99");
    const again = await me.wallets.purchasePackage(wallet.id, { package_id: pack.id }, { idempotencyKey: key });
    expect(again.invoice.id).toBe(bought.invoice.id);
  });

  it("pages the history with next_cursor: allTransactions yields every entry once, newest first", async () => {
    const { client, wallet, me } = await signedIn("1");
    for (const credits of ["2", "3", "4", "5"]) {
      await client.wallets.topUp(wallet.id, { credits_to_add: credits, transaction_reason: "FREE_CREDIT_GRANT" });
    }
    const first = await me.wallets.transactions(wallet.id, { limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));

    const seen: string[] = [];
    for await (const t of me.wallets.allTransactions(wallet.id, { limit: 2 })) seen.push(t.id);
    const all = (await client.wallets.transactions(wallet.id)).items.map((t) => t.id);
    expect(all).toHaveLength(5);
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(5);
  });

  it("automatic top-up: not_allowed until the merchant offers it, then saved and previewed", async () => {
    const { wallet, me } = await signedIn("1");
    const before = await getSetting("portal_config");
    try {
      await putSetting("portal_config", { allow_auto_topup: false });
      expect((await me.wallets.autoTopUp.get(wallet.id)).offered).toBe(false);
      const refused = await me.wallets.autoTopUp
        .set(wallet.id, { enabled: true, threshold: "0", amount: "10" })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CofferError);
      expect(refused).toMatchObject({ status: 403, code: "not_allowed" });

      await putSetting("portal_config", { allow_auto_topup: true });
      const saved = await me.wallets.autoTopUp.set(wallet.id, { enabled: true, threshold: "0", amount: "10" });
      expect(saved.topping_up_now).toBe(false);
      expect(saved.auto_topup).toMatchObject({ enabled: true, threshold: "0", amount: "10", offered: true });
      expect((await me.wallets.autoTopUp.get(wallet.id)).enabled).toBe(true);

      const preview = await me.wallets.autoTopUp.preview(wallet.id, { enabled: true, threshold: "5", amount: "10" });
      expect(preview.would_top_up_now).toBe(true);
      expect((await me.wallets.autoTopUp.get(wallet.id)).threshold).toBe("0");
    } finally {
      await putSetting("portal_config", before);
    }
  });

  it("a saved card is detached by its customer only", async () => {
    const { client, customer, me } = await signedIn("0");
    const card = await client.paymentMethods.create(customer.id, { type: "card", card_number: "5555555555554444" });
    const stranger = await signedIn("0");
    await expect(stranger.me.paymentMethods.detach(card.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
    await me.paymentMethods.detach(card.id);
    expect(await me.paymentMethods.list()).toEqual([]);
  });
});

describe("client_config", () => {
  it("sets the origins whose pages may call the customer API", async () => {
    const client = coffer();
    const before = (await client.settings.clientConfig.get()).value.allowed_origins ?? [];
    const { wallet, session } = await signedIn("1");
    const from = (origin: string) =>
      customerClient(session.token, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...(init.headers as object), origin } }),
      });
    try {
      const put = await client.settings.clientConfig.put([...before, "https://app.example.com/"]);
      expect(put.value.allowed_origins).toContain("https://app.example.com");
      expect((await client.settings.clientConfig.get()).value.allowed_origins).toContain("https://app.example.com");

      expect((await from("https://app.example.com").wallets.list()).map((w) => w.id)).toEqual([wallet.id]);
      await expect(from("https://evil.example.com").wallets.list()).rejects.toMatchObject({
        status: 403,
        code: "origin_not_allowed",
      });
    } finally {
      await client.settings.clientConfig.put(before);
    }
  });
});
