import { CofferError } from "@coffer/client";
import { describe, expect, it } from "vitest";
import { coffer, unique, walletWith } from "./coffer.js";

describe("wallets", () => {
  it("are created for a customer and listed with it", async () => {
    const client = coffer();
    const customer = await client.customers.create({ external_id: unique("user") });
    const wallet = await client.wallets.create({ external_customer_id: customer.external_id, currency: "usd" });
    expect(wallet).toMatchObject({ customer_id: customer.id, currency: "usd", wallet_status: "active" });

    expect((await client.wallets.listForCustomer(customer.id)).map((w) => w.id)).toEqual([wallet.id]);
    expect((await client.wallets.list({ customer_id: customer.id })).items.map((w) => w.id)).toEqual([wallet.id]);
    expect((await client.wallets.get(wallet.id)).id).toBe(wallet.id);
  });

  it("created twice with one idempotency key is one wallet", async () => {
    const client = coffer();
    const customer = await client.customers.create({ external_id: unique("user") });
    const key = unique("open-wallet");
    const first = await client.wallets.create({ customer_id: customer.id, currency: "usd" }, { idempotencyKey: key });
    const again = await client.wallets.create({ customer_id: customer.id, currency: "usd" }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
  });

  it("top up adds credits, and amounts stay decimal strings", async () => {
    const client = coffer();
    const { wallet } = await walletWith("0");
    const change = await client.wallets.topUp(wallet.id, {
      credits_to_add: "10.25",
      transaction_reason: "FREE_CREDIT_GRANT",
    });
    expect(change.wallet_transaction).toMatchObject({ type: "credit", credit_amount: "10.25" });
    const balance = await client.wallets.balance(wallet.id);
    expect(balance.real_time_credit_balance).toBe("10.25");
    expect(typeof balance.real_time_balance).toBe("string");
  });

  it("a debit sent twice with one idempotency key is replayed: same transaction, balance debited once", async () => {
    const client = coffer();
    const { wallet } = await walletWith("10");
    const key = unique("debit");
    const first = await client.wallets.debit(wallet.id, { credits: "2.5" }, { idempotencyKey: key });
    const again = await client.wallets.debit(wallet.id, { credits: "2.5" }, { idempotencyKey: key });

    expect(first.wallet_transaction?.id).toBeDefined();
    expect(again.wallet_transaction?.id).toBe(first.wallet_transaction?.id);
    expect(again).toEqual(first);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("7.5");
  });

  it("a debit without a key gets one from the client, so every call is its own debit", async () => {
    const client = coffer();
    const { wallet } = await walletWith("10");
    const first = await client.wallets.debit(wallet.id, { credits: "1" });
    const second = await client.wallets.debit(wallet.id, { credits: "1" });
    expect(second.wallet_transaction?.id).not.toBe(first.wallet_transaction?.id);
    expect(first.wallet_transaction?.idempotency_key).toMatch(/^[0-9a-f-]{36}$/);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("8");
  });

  it("a lost answer is retried with the same key and the debit is applied once", async () => {
    const seenKeys: unknown[] = [];
    let lost = 0;
    // The network fails after the server has applied the debit: the answer never reaches the caller.
    const client = coffer({
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (init.method === "POST" && input.endsWith("/debit")) {
          seenKeys.push(JSON.parse(String(init.body)).idempotency_key);
          if (lost++ === 0) throw new TypeError("fetch failed: the connection was reset");
        }
        return response;
      },
    });
    const { wallet } = await walletWith("10", client);
    const change = await client.wallets.debit(wallet.id, { credits: "3" });

    expect(seenKeys).toHaveLength(2);
    expect(seenKeys[1]).toBe(seenKeys[0]);
    expect(change.wallet_transaction?.idempotency_key).toBe(seenKeys[0]);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("7");
    const debits = await client.wallets.transactions(wallet.id, { Type: "debit" });
    expect(debits.items).toHaveLength(1);
  });

  it("without retries a lost answer is a network_error with the call's key; repeating with it debits once", async () => {
    let lose = true;
    const client = coffer({
      maxRetries: 0,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (lose && input.endsWith("/debit")) {
          lose = false;
          throw new TypeError("fetch failed: the connection was reset");
        }
        return response;
      },
    });
    const { wallet } = await walletWith("10", client);
    const error = await client.wallets.debit(wallet.id, { credits: "4" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: "network_error" });
    const key = (error as CofferError).idempotencyKey;
    expect(key).toBeDefined();

    const replayed = await client.wallets.debit(wallet.id, { credits: "4" }, { idempotencyKey: key });
    expect(replayed.wallet_transaction?.idempotency_key).toBe(key);
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("6");
  });

  it("a debit above the balance is refused with 422 insufficient_balance and changes nothing", async () => {
    const client = coffer();
    const { wallet } = await walletWith("5");
    const error = await client.wallets.debit(wallet.id, { credits: "5.000000000001" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 422, code: "insufficient_balance" });
    expect((error as CofferError).message).not.toBe("");
    expect((error as CofferError).idempotencyKey).toBeDefined();
    expect((await client.wallets.balance(wallet.id)).real_time_credit_balance).toBe("5");
  });

  it("an unknown wallet is 404 not_found", async () => {
    const client = coffer();
    const error = await client.wallets.get(unique("wallet_missing")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CofferError);
    expect(error).toMatchObject({ status: 404, code: "not_found" });
    await expect(client.wallets.debit("wallet_missing", { credits: "1" })).rejects.toMatchObject({
      status: 404,
      code: "not_found",
    });
  });

  it("lists its transactions, newest first, with the lots a debit consumed", async () => {
    const client = coffer();
    const { wallet } = await walletWith("0");
    await client.wallets.topUp(wallet.id, { credits_to_add: "4", transaction_reason: "FREE_CREDIT_GRANT" });
    await client.wallets.debit(wallet.id, { credits: "1.5", description: "api call" });

    const page = await client.wallets.transactions(wallet.id);
    expect(page.items.map((t) => [t.type, t.credit_amount])).toEqual([
      ["debit", "1.5"],
      ["credit", "4"],
    ]);
    expect(page.pagination.total).toBe(2);
    expect(page.items[0]?.description).toBe("api call");
    expect(typeof page.items[0]?.created_at).toBe("string");
  });
});
