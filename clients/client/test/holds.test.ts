import { describe, expect, it } from "vitest";
import { coffer, walletWith } from "./coffer.js";

describe("holds", () => {
  it("reserve credits, and a capture debits what was used", async () => {
    const client = coffer();
    const { wallet } = await walletWith("10");
    const { hold } = await client.holds.create(wallet.id, { credits: "4", description: "model run" });
    expect(hold).toMatchObject({ status: "active", credits: "4" });
    expect((await client.wallets.balance(wallet.id)).available_credit_balance).toBe("6");

    const captured = await client.holds.capture(wallet.id, hold.id, { credits: "2.5" });
    expect(captured.hold.status).toBe("captured");
    expect(captured.wallet_transaction).toMatchObject({ type: "debit", credit_amount: "2.5" });
    const balance = await client.wallets.balance(wallet.id);
    expect(balance.real_time_credit_balance).toBe("7.5");
    expect(balance.available_credit_balance).toBe("7.5");
  });

  it("released, spend nothing and are listed as released", async () => {
    const client = coffer();
    const { wallet } = await walletWith("10");
    const { hold } = await client.holds.create(wallet.id, { credits: "3" });
    const released = await client.holds.release(wallet.id, hold.id);
    expect(released.hold.status).toBe("released");
    expect(released.wallet_transaction).toBeNull();
    expect((await client.holds.list(wallet.id)).items.map((h) => [h.id, h.status])).toEqual([[hold.id, "released"]]);
    expect((await client.wallets.balance(wallet.id)).available_credit_balance).toBe("10");
  });
});
