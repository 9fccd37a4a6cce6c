namespace Coffer.Tests;

public sealed class WalletEventTestsOnSqlite() : WalletEventTests(Store.Sqlite);
public sealed class WalletEventTestsOnPostgres() : WalletEventTests(Store.Postgres);

/// <summary>
/// Every event about a wallet carries its own sequence number, 1, 2, 3, ... with no gap, and the wallet row
/// stores the last one. Root cause of the drift: events raised beside the ledger's (a closing refund, a wallet
/// payment, a failed automatic top-up) numbered themselves, with the wallet's number plus one or with 0.
/// </summary>
public abstract class WalletEventTests(Store store) : ApiTest(store)
{
    async Task<(List<(string Type, long Sequence)> Events, long Stored)> EventsOf(string wallet)
    {
        await using var c = await App.Service<Storage.Database>().OpenAsync();
        var events = await Storage.Sql.QueryAsync(c, null, "SELECT event_type, sequence FROM outbox_events WHERE wallet_id = @w ORDER BY sequence",
            r => (r.GetString(0), Convert.ToInt64(r.GetValue(1))), ("w", wallet));
        var stored = await Storage.Sql.ScalarLongAsync(c, null, "SELECT event_seq FROM wallets WHERE id = @w", ("w", wallet));
        return (events, stored);
    }

    async Task AssertNumberedOneByOne(string wallet, string type)
    {
        var (events, stored) = await EventsOf(wallet);
        Assert.Contains(events, e => e.Type == type);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(n => (long)n), events.Select(e => e.Sequence));
        Assert.Equal(events.Count, stored);
    }

    [Fact]
    public async Task AClosedWalletStoresTheSequenceOfItsRefundEvent()
    {
        var id = (await CreateWallet(new { topup_conversion_rate = "2" })).S("id");
        await TopUp(id, "10", reason: "PURCHASED_CREDIT_DIRECT");

        (await Api.Post($"/v1/wallets/{id}/close", new { refund = "purchased" })).Ok();

        await AssertNumberedOneByOne(id, "wallet.refund.created");
        Assert.Equal("wallet.refund.created", (await EventsOf(id)).Events[^1].Type);
    }

    [Fact]
    public async Task AWalletPaymentOfAnInvoiceIsNumberedWithTheWalletsEvents()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "40" });
        var invoice = (await Api.Post("/v1/invoices", new
        {
            customer_id = wallet.S("customer_id"), currency = "usd", amount_due = "10", subtotal = "10", total = "10", invoice_status = "FINALIZED",
        })).Ok(201);

        (await Api.Post($"/v1/invoices/{invoice.S("id")}/payment/attempt")).Ok();
        await TopUp(wallet.S("id"), "5");

        await AssertNumberedOneByOne(wallet.S("id"), "wallet.payment_made");
    }

    [Fact]
    public async Task AFailedAutomaticTopUpIsNumberedWithTheWalletsEvents()
    {
        var wallet = await CreateWallet(new { initial_credits_to_load = "100", auto_topup = new { enabled = true, threshold = 50, amount = 10 } });
        var id = wallet.S("id");
        (await Api.Post($"/v1/customers/{wallet.S("customer_id")}/payment-methods", new { type = "card", card_number = "4000000000000002" })).Ok(201);
        (await Debit(id, "60")).Ok();

        await App.Service<AutoTopUp.AutoTopUpWorker>().RunOnceAsync();
        await TopUp(id, "1");

        await AssertNumberedOneByOne(id, "wallet.auto_top_up_failed");
    }
}
